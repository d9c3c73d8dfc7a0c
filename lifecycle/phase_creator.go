package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/slipway/slipway/platform"
)

// Creator is the creator (platform.md, Operations: Build; platform.md, creator): the analyzer,
// detector, restorer, builder and exporter in one process, with the same inputs, handing over
// through the same files (analyzed/group/plan.toml) as the five-phase flow.
//
// The reference creator starts as root, chowns, and drops to CNB_USER_ID; slipway does not
// switch users, and the creator runs buildpack code itself, so it refuses root unless
// CNB_USER_ID names root explicitly (platform.md, Build Image: buildpacks run as the CNB user).
func Creator(ctx context.Context, in *platform.Inputs, o IO) (*ExportResult, error) {
	if os.Getuid() == 0 && platform.Env(o.Environ).Get("CNB_USER_ID") != strconv.Itoa(os.Getuid()) {
		return nil, platform.NewError(platform.CodeFailed, errors.New("refusing to run as root: slipway's creator does not drop privileges; run it as the build image's CNB user (CNB_USER_ID), or set CNB_USER_ID=0 to build as root on purpose"))
	}
	step := func(header string) { fmt.Fprintf(o.Stdout, "===> %s\n", header) }
	step("ANALYZING")
	// The creator's -skip-restore also keeps the previous image's metadata out (platform.md, creator).
	if _, err := Analyzer(ctx, in, o); err != nil {
		return nil, err
	}
	step("DETECTING")
	res, err := Detector(ctx, in, o)
	if err != nil {
		return nil, err
	}
	// platform.md, Operations: Build (reference lifecycle): the creator never runs image extensions.
	if len(res.Group.GroupExtensions) > 0 {
		return nil, platform.NewError(platform.CodeDetectError, errors.New("the detected group has image extensions, which the creator cannot run; use the five-phase flow"))
	}
	var restored []RestoredLayer
	if !in.SkipLayers {
		step("RESTORING")
		rep, err := Restorer(ctx, in, o)
		if err != nil {
			return nil, err
		}
		restored = rep.Layers
	}
	step("BUILDING")
	if err := Builder(ctx, in, o); err != nil {
		return nil, err
	}
	step("EXPORTING")
	return exportPhase(ctx, in, o, restored)
}
