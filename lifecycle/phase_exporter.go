package lifecycle

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipway/slipway/cache"
	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/tomlfile"
	"github.com/slipway/slipway/version"
)

// ExportResult is what the exporter wrote: the image, where, and its layers.
type ExportResult struct {
	Image  v1.Image
	Report platform.Report
	Layers *ExportReport
}

// Exporter is the exporter phase (platform.md, exporter): it exports the layers the builder
// left into an image on the run image that analyzed.toml names, writes it under every
// <image> given (moving no name unless the whole image is written) and report.toml, then
// the cache when -cache-dir or -cache-image is given.
func Exporter(ctx context.Context, in *platform.Inputs, o IO) (*ExportResult, error) {
	return exportPhase(ctx, in, o, nil)
}

// exportPhase is the exporter; restored is what the restorer untarred in the same process
// (the creator), so unchanged restored cache layers are not tarred again.
func exportPhase(ctx context.Context, in *platform.Inputs, o IO, restored []RestoredLayer) (*ExportResult, error) {
	res, err := exportImage(ctx, in, o)
	if err != nil {
		return nil, err
	}
	if in.CacheDir == "" && in.CacheImage == "" {
		return res, nil
	}
	// platform.md, exporter: after the image it writes the cache; a cache that cannot be
	// written is a warning, since the image is already written (platform.md, Layer Restoration).
	if err := exportCache(ctx, in, o, restored); err != nil {
		o.warnf("write cache: %v; the image is fine, the next build may be slower", err)
	}
	return res, nil
}

func exportImage(ctx context.Context, in *platform.Inputs, o IO) (*ExportResult, error) {
	fail := func(err error) error { return platform.NewError(platform.CodeExportError, err) }
	analyzed, err := readAnalyzed(in.AnalyzedPath)
	if err != nil {
		return nil, fail(err)
	}
	if analyzed.RunImage == nil || analyzed.RunImage.Reference == "" {
		return nil, fail(fmt.Errorf("%s names no run image ([run-image] reference); run the analyzer first", in.AnalyzedPath))
	}
	group, err := readGroup(in.GroupPath)
	if err != nil {
		return nil, fail(err)
	}
	runImg, err := o.Images.Image(ctx, analyzed.RunImage.Reference)
	if err != nil {
		return nil, fail(fmt.Errorf("run image: %w", err))
	}
	// buildpack.md, Launch Layers: launch layers a buildpack kept by writing only their .toml
	// come from the previous image the analyzer found.
	var previous v1.Image
	if analyzed.PreviousImage != nil && analyzed.PreviousImage.Reference != "" {
		if previous, err = o.Images.Image(ctx, analyzed.PreviousImage.Reference); err != nil {
			return nil, fail(fmt.Errorf("previous image: %w", err))
		}
	}
	lc := OpenLaunchCache(in.LaunchCacheDir)
	if previous != nil && lc != nil {
		previous = lc.Wrap(previous)
	}
	var project platform.ProjectMetadata
	if _, err := os.Stat(in.ProjectMetadataPath); err == nil {
		if err := tomlfile.Read(in.ProjectMetadataPath, &project); err != nil {
			return nil, fail(err)
		}
	}
	created, err := platform.SourceDateEpoch(o.Environ)
	if err != nil {
		return nil, err
	}
	uid, gid, err := exportUser(in, o)
	if err != nil {
		return nil, err
	}
	scratch, err := os.MkdirTemp("", "slipway-export-")
	if err != nil {
		return nil, fail(err)
	}
	defer os.RemoveAll(scratch)
	// The phase runs where the platform mounted the app and layers: the same paths go in the image.
	imageLayers, err := filepath.Abs(in.LayersDir)
	if err != nil {
		return nil, fail(err)
	}
	imageApp, err := filepath.Abs(in.AppDir)
	if err != nil {
		return nil, fail(err)
	}
	img, rep, err := Export(ctx, ExportInputs{
		LayersDir: in.LayersDir, AppDir: in.AppDir, Group: group.Group,
		ImageLayersDir: imageLayers, ImageAppDir: imageApp,
		RunImage: runImg, RunImageRef: analyzed.RunImage.Reference, RunImageName: firstNonEmpty(analyzed.RunImage.Image, analyzed.RunImage.Reference),
		LauncherPath: in.LauncherPath, LauncherVersion: version.Version,
		ProjectMetadata: project, DefaultProcessType: in.DefaultProcessType, PreviousImage: previous,
		UID: uid, GID: gid, Created: created, PlatformAPI: in.Platform.Version.String(),
		ScratchDir: scratch,
		// The exporter phase has no platform env of its own: the opt-out is its environment.
		SkipELFCheck: platform.Env(o.Environ).Get(ELFCheckOptOut) == "true",
	})
	if err != nil {
		return nil, err
	}
	reportLayers(o, rep, previous)
	names := in.DestinationImages()
	ir, err := o.Images.Write(ctx, names, img)
	if err != nil {
		return nil, fail(err)
	}
	ir.Tags = names
	if lc != nil {
		base, err := runImg.Layers()
		if err == nil {
			err = lc.Save(img, len(base))
		}
		if err != nil {
			o.warnf("update launch cache %s: %v", in.LaunchCacheDir, err)
		}
	}
	report := platform.Report{Image: ir}
	if err := tomlfile.Write(in.ReportPath, report); err != nil {
		return nil, fail(err)
	}
	fmt.Fprintf(o.Stdout, "*** Images (%s):\n", shortID(firstNonEmpty(ir.Digest, ir.ImageID)))
	for _, n := range names {
		fmt.Fprintf(o.Stdout, "      %s\n", n)
	}
	return &ExportResult{Image: img, Report: report, Layers: rep}, nil
}

// reportLayers says, as the reference exporter does, which layers the image shares with the
// previous image (same diffID: a registry or daemon already has them) and which are new.
func reportLayers(o IO, rep *ExportReport, previous v1.Image) {
	prev := map[v1.Hash]bool{}
	if previous != nil {
		if cf, err := previous.ConfigFile(); err == nil {
			for _, d := range cf.RootFS.DiffIDs {
				prev[d] = true
			}
		}
	}
	for _, l := range rep.Layers {
		verb := "Adding"
		if l.Reused || prev[l.DiffID] {
			verb = "Reusing"
		}
		fmt.Fprintf(o.Stdout, "%s layer '%s'\n", verb, l.Name)
	}
}

// exportUser is the owner of the exported buildpack and app layers: -uid/-gid, else
// CNB_USER_ID/CNB_GROUP_ID (platform.md, Build Image); one of them must name it.
func exportUser(in *platform.Inputs, o IO) (int, int, error) {
	if in.Given("uid") && in.Given("gid") {
		return in.UID, in.GID, nil
	}
	uid, gid, err := platform.CNBUser(o.Environ, "the exporter's environment (or pass -uid and -gid)")
	if err != nil {
		return 0, 0, platform.NewError(platform.CodeInvalidArgs, err)
	}
	return uid, gid, nil
}

// exportCache writes the cache=true layers to -cache-dir or -cache-image (platform.md, exporter).
func exportCache(ctx context.Context, in *platform.Inputs, o IO, restored []RestoredLayer) error {
	group, err := readGroup(in.GroupPath)
	if err != nil {
		return err
	}
	uid, gid, err := exportUser(in, o)
	if err != nil {
		return err
	}
	created, err := platform.SourceDateEpoch(o.Environ)
	if err != nil {
		return err
	}
	c, meta, err := openCache(ctx, in, o)
	if err != nil {
		return err
	}
	defer c.Close()
	rep, err := ExportCache(ctx, CacheExportInputs{
		LayersDir: in.LayersDir, Group: group.Group, Cache: c, Previous: meta,
		Restored: restored, UID: uid, GID: gid, Created: created,
	})
	if rep != nil {
		for _, w := range rep.Warnings {
			o.warnf("%s", w)
		}
		for _, l := range rep.Layers {
			fmt.Fprintf(o.Stdout, "Cache layer %q: %s\n", l.Name, l.Reason)
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
