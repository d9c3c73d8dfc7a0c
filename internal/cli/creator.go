package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/slipway/slipway/cache"
	"github.com/slipway/slipway/lifecycle"
	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/tomlfile"
)

// runCreator is the creator (platform.md, Operations: Build): analyze → detect → restore → build → export
// and the cache, in one process, with the union of the phases' flags. Each step is the phase
// of the same name; they hand over through the same files (analyzed/group/plan.toml) as in
// the five-phase flow.
//
// The reference creator starts as root, chowns, and drops to CNB_USER_ID; slipway cannot
// setuid portably, and the creator runs buildpack code itself, so it refuses root unless
// CNB_USER_ID names root explicitly (platform.md, Build Image: run it as the build image's CNB user).
func runCreator(ctx context.Context, in *phaseInputs) error {
	if os.Getuid() == 0 && os.Getenv("CNB_USER_ID") != strconv.Itoa(os.Getuid()) {
		return platform.NewError(platform.CodeFailed, errors.New("refusing to run as root: slipway's creator does not drop privileges; run it as the build image's CNB user (CNB_USER_ID), or set CNB_USER_ID=0 to build as root on purpose"))
	}
	f := &in.more
	if len(in.images) != 1 {
		return platform.NewError(platform.CodeInvalidArgs, fmt.Errorf("want exactly one <image>, got %q", in.images))
	}
	skipRestore := f.skipLayers
	step := func(header string, run func(context.Context, *phaseInputs) error) error {
		fmt.Fprintf(in.stdout, "===> %s\n", header)
		return run(ctx, in)
	}
	if err := step("ANALYZING", runAnalyzer); err != nil {
		return err
	}
	if err := step("DETECTING", runDetector); err != nil {
		return err
	}
	var group platform.GroupFile
	if err := tomlfile.Read(in.group, &group); err != nil {
		return platform.NewError(platform.CodeDetectError, err)
	}
	// platform.md, Operations: Build (reference lifecycle): the creator never runs image extensions.
	if len(group.GroupExtensions) > 0 {
		return platform.NewError(platform.CodeDetectError, errors.New("the detected group has image extensions, which the creator cannot run; use the five-phase flow"))
	}
	if !skipRestore {
		// The analyzer's -skip-layers meaning must not leak into the restorer.
		f.skipLayers = false
		if err := step("RESTORING", runRestorer); err != nil {
			return err
		}
	}
	if err := step("BUILDING", runBuilder); err != nil {
		return err
	}
	in.images = append(in.images, f.tags...)
	return step("EXPORTING", runExporterWithCache)
}

// runExporterWithCache is the exporter phase followed by the cache export when -cache-dir or
// -cache-image is given (platform.md, exporter: "after the image it writes the cache"). A cache
// that cannot be written is a warning: the image is already published (platform.md, Layer Restoration).
func runExporterWithCache(ctx context.Context, in *phaseInputs) error {
	if err := runExporter(ctx, in); err != nil {
		return err
	}
	f := &in.more
	if f.cacheDir == "" && f.cacheImage == "" {
		return nil
	}
	if err := exportPhaseCache(ctx, in); err != nil {
		fmt.Fprintf(in.stderr, "Warning: write cache: %v; the image is fine, the next build may be slower\n", err)
	}
	return nil
}

func exportPhaseCache(ctx context.Context, in *phaseInputs) error {
	var group platform.GroupFile
	if err := tomlfile.Read(in.group, &group); err != nil {
		return err
	}
	uid, gid, err := platform.CNBUser(os.Environ(), "the exporter's environment")
	if err != nil {
		return err
	}
	created, err := platform.SourceDateEpoch(os.Environ())
	if err != nil {
		return err
	}
	c, meta, err := in.openPhaseCache(ctx)
	if err != nil {
		return err
	}
	defer closePhaseCache(c)
	rep, err := lifecycle.ExportCache(ctx, lifecycle.CacheExportInputs{
		LayersDir: in.layers, Group: group.Group, Cache: c, Previous: meta,
		Restored: in.more.restored, UID: uid, GID: gid, Created: created,
	})
	if rep != nil {
		for _, w := range rep.Warnings {
			fmt.Fprintf(in.stderr, "Warning: %s\n", w)
		}
		for _, l := range rep.Layers {
			fmt.Fprintf(in.stdout, "Cache layer %q: %s\n", l.Name, l.Reason)
		}
	}
	if err != nil {
		return err
	}
	// A root exporter leaves the volume cache to the CNB user, whose restorer opens it next.
	if d, ok := c.(*cache.Dir); ok {
		return chownForCNBUser(d.Root(), uid, gid)
	}
	return nil
}
