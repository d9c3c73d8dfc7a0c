package lifecycle

import (
	"context"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/tomlfile"
)

// RebaserResult is what the rebaser phase wrote.
type RebaserResult struct {
	Image  v1.Image
	Report platform.Report
	Rebase *RebaseReport
}

// Rebaser is the rebaser phase (platform.md, rebaser), as /cnb/lifecycle/rebaser: it reads
// the app image (-previous-image, else <image>), finds the new run image (-run-image, else
// the label's runImage.image or a mirror, one on the app's registry first: platform.md, Run
// Image Resolution), puts the app layers on it with Rebase, writes the result under every
// <image> and writes report.toml. Images live where -daemon says (a registry by default).
// An image or run image that cannot be read or rebased is exit code 72 (platform.md, Usage
// (exit codes)); a missing -run-image with no run image in the label is 3.
func Rebaser(ctx context.Context, in *platform.Inputs, o IO) (*RebaserResult, error) {
	fail := func(err error) error { return platform.NewError(platform.CodeRebaseError, err) }
	src := firstNonEmpty(in.PreviousImage, in.OutputImage)
	app, err := o.Images.Image(ctx, src)
	if err != nil {
		return nil, fail(fmt.Errorf("image to rebase %s: %w", src, err))
	}
	meta, err := ReadLayersMetadata(app)
	if err != nil {
		return nil, fail(fmt.Errorf("image to rebase %s: %w", src, err))
	}
	runName, run, err := rebaserRunImage(ctx, in, o, src, meta)
	if err != nil {
		return nil, err
	}
	runRef, err := identify(o.Images, runName, run)
	if err != nil {
		return nil, fail(err)
	}
	img, rep, err := Rebase(ctx, RebaseInputs{
		App: app, NewRunImage: run, NewRunImageRef: runRef, NewRunImageName: runName,
		Force: in.ForceRebase, Log: o.Stderr,
	})
	if err != nil {
		return nil, err
	}
	names := in.DestinationImages()
	ir, err := o.Images.Write(ctx, names, img)
	if err != nil {
		return nil, fail(fmt.Errorf("write rebased image: %w", err))
	}
	ir.Tags = names
	report := platform.Report{Image: ir}
	if err := tomlfile.Write(in.ReportPath, report); err != nil {
		return nil, fail(fmt.Errorf("write report (-report) %s: %w", in.ReportPath, err))
	}
	fmt.Fprintf(o.Stdout, "Rebased %s from %s onto %s\n", src, rep.Old.Reference, rep.New.Reference)
	fmt.Fprintf(o.Stdout, "*** Images (%s):\n", shortID(firstNonEmpty(ir.Digest, ir.ImageID)))
	for _, n := range names {
		fmt.Fprintf(o.Stdout, "      %s\n", n)
	}
	return &RebaserResult{Image: img, Report: report, Rebase: rep}, nil
}

// rebaserRunImage is -run-image, else the first readable of the run image names the label
// records, those on the registry of the app image first.
func rebaserRunImage(ctx context.Context, in *platform.Inputs, o IO, app string, meta *LayersMetadata) (string, v1.Image, error) {
	if in.RunImage != "" {
		img, err := o.Images.Image(ctx, in.RunImage)
		if err != nil {
			return "", nil, platform.NewError(platform.CodeRebaseError, fmt.Errorf("run image (-run-image) %s: %w", in.RunImage, err))
		}
		return in.RunImage, img, nil
	}
	names := meta.RunImageNames()
	if len(names) == 0 {
		return "", nil, platform.NewError(platform.CodeInvalidArgs, fmt.Errorf("-run-image is required: image %s records no run image in its %s label", app, platform.LabelLifecycleMetadata))
	}
	if reg := registryOf(app); reg != "" && !in.UseDaemon {
		var same, other []string
		for _, n := range names {
			if registryOf(n) == reg {
				same = append(same, n)
			} else {
				other = append(other, n)
			}
		}
		names = append(same, other...)
	}
	var errs []error
	for _, n := range names {
		img, err := o.Images.Image(ctx, n)
		if err == nil {
			return n, img, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", n, err))
	}
	return "", nil, platform.NewError(platform.CodeRebaseError, fmt.Errorf("no run image the app image names is readable (pass -run-image): %w", errors.Join(errs...)))
}

// shortID is the 12 hex digits a digest or image ID is shown by.
func shortID(id string) string {
	if len(id) > 19 {
		return id[7:19]
	}
	return id
}
