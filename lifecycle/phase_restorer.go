package lifecycle

import (
	"context"
	"fmt"

	"github.com/slipway/slipway/cache"
	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/tomlfile"
)

// Restorer is the restorer phase (platform.md, restorer): with the group from the detector,
// it restores cache=true layers (metadata and contents) from the cache, launch-only layer
// metadata and store.toml from the previous image's metadata in analyzed.toml (buildpack.md,
// Layer Types), and fills in a missing run-image target.
func Restorer(ctx context.Context, in *platform.Inputs, o IO) (*RestoreReport, error) {
	c, meta, err := openCache(ctx, in, o)
	if err != nil {
		return nil, platform.NewError(platform.CodeRestoreError, err)
	}
	if c != nil {
		defer c.Close()
	}
	return restore(ctx, in, o, c, meta)
}

// restore is the restorer with the cache already open (the creator keeps it open for the
// export that follows).
func restore(ctx context.Context, in *platform.Inputs, o IO, c cache.Cache, meta *cache.Metadata) (*RestoreReport, error) {
	fail := func(err error) error { return platform.NewError(platform.CodeRestoreError, err) }
	group, err := readGroup(in.GroupPath)
	if err != nil {
		return nil, fail(err)
	}
	af, err := readAnalyzed(in.AnalyzedPath)
	if err != nil {
		return nil, fail(err)
	}
	prev, err := PreviousMetadata(af)
	if err != nil {
		return nil, fail(fmt.Errorf("%s: %w", in.AnalyzedPath, err))
	}
	if err := fillRunTarget(ctx, in, o, af); err != nil {
		return nil, fail(err)
	}
	if in.SkipLayers {
		c, meta = nil, nil
	}
	created, err := platform.SourceDateEpoch(o.Environ)
	if err != nil {
		return nil, err
	}
	rep, err := Restore(ctx, RestoreInputs{
		LayersDir: in.LayersDir, Group: group.Group, Cache: c, CacheMetadata: meta, Previous: prev,
		UID: in.UID, GID: in.GID, Created: created, Warn: o.warnf,
	})
	if err != nil {
		return nil, fail(err)
	}
	for _, l := range rep.Layers {
		if l.Contents != "" {
			fmt.Fprintf(o.Stdout, "Restoring data for %q from cache (%s)\n", l.Buildpack+":"+l.Name, l.Contents)
		} else {
			fmt.Fprintf(o.Stdout, "Restoring metadata for %q from app image\n", l.Buildpack+":"+l.Name)
		}
	}
	return rep, chownForCNBUser(in.LayersDir, in.UID, in.GID)
}

// fillRunTarget completes a [run-image] without [target] (written by a platform, not by the
// analyzer) from the run image's config and labels (platform.md, restorer).
func fillRunTarget(ctx context.Context, in *platform.Inputs, o IO, af *platform.Analyzed) error {
	if af.RunImage == nil || af.RunImage.Target != nil || af.RunImage.Reference == "" {
		return nil
	}
	img, err := o.Images.Image(ctx, af.RunImage.Reference)
	if err != nil {
		return fmt.Errorf("read run image %s of %s: %w", af.RunImage.Reference, in.AnalyzedPath, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("read config of run image %s: %w", af.RunImage.Reference, err)
	}
	t := platform.TargetOf(cfg)
	af.RunImage.Target = &t
	if err := tomlfile.Write(in.AnalyzedPath, af); err != nil {
		return err
	}
	return chownForCNBUser(in.AnalyzedPath, in.UID, in.GID)
}
