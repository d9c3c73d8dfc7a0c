package cache

import (
	"context"
	"fmt"
	"os"

	"github.com/slipway/slipway/registry"
)

// Options name a build cache: a cache image (--cache-image) or a volume directory
// (--cache-dir). The image wins when both are set.
type Options struct {
	Image string
	Dir   string
	// Registry reaches the cache image.
	Registry registry.Options
	// Scratch holds an image cache's new layer tars until Commit; "" means a temp dir that
	// Close removes.
	Scratch string
	// Waiting is called when another build holds the volume cache; Hook is DirOptions.Hook.
	Waiting func()
	Hook    func(point string)
}

// Open opens the cache o names and reads its committed metadata; nil, nil, nil when o names
// none. Metadata that cannot be read is reported to warn and treated as an empty cache: the
// build recreates the layers (platform.md, Layer Restoration).
func Open(ctx context.Context, o Options, warn func(format string, args ...any)) (Cache, *Metadata, error) {
	var c Cache
	switch {
	case o.Image != "":
		scratch, own := o.Scratch, false
		if scratch == "" {
			var err error
			if scratch, err = os.MkdirTemp("", "slipway-cache-"); err != nil {
				return nil, nil, fmt.Errorf("create cache scratch dir: %w", err)
			}
			own = true
		}
		ic, err := OpenImage(ctx, o.Image, o.Registry, scratch)
		if err != nil {
			if own {
				os.RemoveAll(scratch)
			}
			return nil, nil, err
		}
		ic.removeScratch = own
		c = ic
	case o.Dir != "":
		dc, err := OpenDir(o.Dir, DirOptions{Waiting: o.Waiting, Hook: o.Hook})
		if err != nil {
			return nil, nil, err
		}
		c = dc
	default:
		return nil, nil, nil
	}
	meta, err := c.Metadata(ctx)
	if err != nil {
		if warn != nil {
			warn("ignoring the build cache: %v", err)
		}
		meta = &Metadata{}
	}
	return c, meta, nil
}
