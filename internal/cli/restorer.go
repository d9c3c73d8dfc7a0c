package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/slipway/slipway/cache"
	"github.com/slipway/slipway/lifecycle"
	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/tomlfile"
)

// openPhaseCache opens -cache-image or -cache-dir; nil when neither is given.
func (in *phaseInputs) openPhaseCache(ctx context.Context) (cache.Cache, *cache.Metadata, error) {
	f := &in.more
	ro, err := in.registryOptions()
	if err != nil {
		return nil, nil, err
	}
	return cache.Open(ctx, cache.Options{
		Image: f.cacheImage, Dir: f.cacheDir, Registry: ro,
		Waiting: func() { fmt.Fprintf(in.stdout, "Waiting for another build using the cache %s\n", f.cacheDir) },
	}, func(format string, args ...any) { fmt.Fprintf(in.stderr, "Warning: "+format+"\n", args...) })
}

// closePhaseCache releases the cache: the volume cache's lock, an image cache's scratch dir.
func closePhaseCache(c cache.Cache) {
	if c != nil {
		c.Close()
	}
}

// runRestorer is the restorer phase (platform.md, restorer): with the group from the detector, it
// restores cache=true layers (metadata and contents) from the cache, launch-only layer
// metadata and store.toml from the previous image's metadata in analyzed.toml (buildpack.md, Layer Types), and
// fills a missing run-image target.
func runRestorer(ctx context.Context, in *phaseInputs) error {
	fail := func(err error) error { return platform.NewError(platform.CodeRestoreError, err) }
	f := &in.more
	var group platform.GroupFile
	if err := tomlfile.Read(in.group, &group); err != nil {
		return fail(err)
	}
	af, err := in.readAnalyzed()
	if err != nil {
		return fail(err)
	}
	prev, err := lifecycle.PreviousMetadata(af)
	if err != nil {
		return fail(fmt.Errorf("%s: %w", in.analyzed, err))
	}
	if err := fillRunTarget(ctx, in, af); err != nil {
		return fail(err)
	}
	c, meta, err := in.openPhaseCache(ctx)
	if err != nil {
		return fail(err)
	}
	defer closePhaseCache(c)
	if f.skipLayers {
		c, meta = nil, nil
	}
	created, err := platform.SourceDateEpoch(os.Environ())
	if err != nil {
		return err
	}
	rep, err := lifecycle.Restore(ctx, lifecycle.RestoreInputs{
		LayersDir: in.layers, Group: group.Group, Cache: c, CacheMetadata: meta, Previous: prev,
		UID: f.uid, GID: f.gid, Created: created,
		Warn: func(format string, args ...any) { fmt.Fprintf(in.stderr, "Warning: "+format+"\n", args...) },
	})
	if err != nil {
		return fail(err)
	}
	f.restored = rep.Layers
	for _, l := range rep.Layers {
		if l.Contents != "" {
			fmt.Fprintf(in.stdout, "Restoring data for %q from cache (%s)\n", l.Buildpack+":"+l.Name, l.Contents)
		} else {
			fmt.Fprintf(in.stdout, "Restoring metadata for %q from app image\n", l.Buildpack+":"+l.Name)
		}
	}
	return chownForCNBUser(in.layers, f.uid, f.gid)
}

// fillRunTarget completes a [run-image] without [target] (written by a platform, not by the
// analyzer) from the run image's config and labels (platform.md, restorer).
func fillRunTarget(ctx context.Context, in *phaseInputs, af *platform.Analyzed) error {
	if af.RunImage == nil || af.RunImage.Target != nil || af.RunImage.Reference == "" {
		return nil
	}
	ro, err := in.registryOptions()
	if err != nil {
		return err
	}
	img, err := registrySource{ro}.Image(ctx, af.RunImage.Reference)
	if err != nil {
		return fmt.Errorf("read run image %s of %s: %w", af.RunImage.Reference, in.analyzed, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("read config of run image %s: %w", af.RunImage.Reference, err)
	}
	t := platform.TargetOf(cfg)
	af.RunImage.Target = &t
	if err := tomlfile.Write(in.analyzed, af); err != nil {
		return err
	}
	return chownForCNBUser(in.analyzed, in.more.uid, in.more.gid)
}
