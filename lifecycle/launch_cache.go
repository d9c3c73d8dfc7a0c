package lifecycle

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/slipway/slipway/atomicfile"
)

// LaunchCache is the exporter's -launch-cache (platform.md, exporter): the uncompressed
// layers of the images it wrote, by diffID, so that reusing a layer of the previous image
// reads it from disk instead of from the Docker daemon, whose only way to hand out one
// layer is to export the whole image. Files are <dir>/committed/<diffID>.tar.
type LaunchCache struct{ dir string }

// OpenLaunchCache is the launch cache in dir; nil when dir is "".
func OpenLaunchCache(dir string) *LaunchCache {
	if dir == "" {
		return nil
	}
	return &LaunchCache{dir: filepath.Join(dir, "committed")}
}

func (c *LaunchCache) path(h v1.Hash) string { return filepath.Join(c.dir, h.String()+".tar") }

// layer is the cached layer of diffID h, or nil.
func (c *LaunchCache) layer(h v1.Hash) v1.Layer {
	p := c.path(h)
	if _, err := os.Stat(p); err != nil {
		return nil
	}
	l, err := tarball.LayerFromFile(p)
	if err != nil {
		return nil
	}
	if d, err := l.DiffID(); err != nil || d != h {
		return nil
	}
	return l
}

// Wrap answers LayerByDiffID of img from the cache first.
func (c *LaunchCache) Wrap(img v1.Image) v1.Image { return &launchCachedImage{Image: img, c: c} }

type launchCachedImage struct {
	v1.Image
	c *LaunchCache
}

func (i *launchCachedImage) LayerByDiffID(h v1.Hash) (v1.Layer, error) {
	if l := i.c.layer(h); l != nil {
		return l, nil
	}
	return i.Image.LayerByDiffID(h)
}

// Save adds the layers of img above its first base layers (the run image's) that the cache
// lacks, each written atomically; layers of other images stay (a later build may reuse them).
func (c *LaunchCache) Save(img v1.Image, base int) error {
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for i, l := range layers {
		if i < base {
			continue
		}
		h, err := l.DiffID()
		if err != nil {
			return err
		}
		if _, err := os.Stat(c.path(h)); err == nil {
			continue
		}
		err = atomicfile.WriteFrom(c.path(h), 0o644, func(w io.Writer) error {
			rc, err := l.Uncompressed()
			if err != nil {
				return err
			}
			defer rc.Close()
			_, err = io.Copy(w, rc)
			return err
		})
		if err != nil {
			return fmt.Errorf("layer %s: %w", h, err)
		}
	}
	return nil
}
