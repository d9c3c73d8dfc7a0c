package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/slipway/slipway/layer"
	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/registry"
)

// Image is a cache kept as a registry image (--cache-image): one layer per cached layer and
// the metadata in the image label platform.LabelCacheMetadata (docs/spec-notes.md, Caches). Layers the registry
// already has are never uploaded again; a commit is one manifest PUT, atomic on the registry.
type Image struct {
	ref     string
	opts    registry.Options
	prev    v1.Image // nil when the cache image does not exist yet
	scratch string
	// removeScratch: Open made scratch, so Close removes it.
	removeScratch bool
}

var _ Cache = (*Image)(nil)

// OpenImage reads the cache image ref; a missing image is an empty cache. scratch holds new
// layer tars until Commit.
func OpenImage(ctx context.Context, ref string, o registry.Options, scratch string) (*Image, error) {
	c := &Image{ref: ref, opts: o, scratch: scratch}
	if err := os.MkdirAll(scratch, 0o755); err != nil {
		return nil, fmt.Errorf("create cache scratch dir %s: %w", scratch, err)
	}
	img, err := registry.Image(ctx, ref, o)
	var re *registry.Error
	switch {
	case errors.As(err, &re) && re.Kind == registry.KindNotFound:
		return c, nil
	case err != nil:
		return nil, fmt.Errorf("read cache image %s (--cache-image): %w", ref, err)
	}
	c.prev = img
	return c, nil
}

// ScratchDir implements Cache.
func (c *Image) ScratchDir() string { return c.scratch }

// Close implements Cache. A scratch dir Open made for the cache is removed.
func (c *Image) Close() error {
	if c.removeScratch {
		return os.RemoveAll(c.scratch)
	}
	return nil
}

// Metadata implements Cache.
func (c *Image) Metadata(context.Context) (*Metadata, error) {
	if c.prev == nil {
		return &Metadata{}, nil
	}
	cf, err := c.prev.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read cache image %s config: %w", c.ref, err)
	}
	raw := cf.Config.Labels[platform.LabelCacheMetadata]
	if raw == "" {
		return &Metadata{}, nil
	}
	var m Metadata
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return nil, fmt.Errorf("parse label %s of cache image %s: %w", platform.LabelCacheMetadata, c.ref, err)
	}
	return &m, nil
}

// Open implements Cache.
func (c *Image) Open(_ context.Context, h v1.Hash) (io.ReadCloser, error) {
	if c.prev == nil {
		return nil, fmt.Errorf("open cached layer %s: cache image %s does not exist", h, c.ref)
	}
	l, err := c.prev.LayerByDiffID(h)
	if err != nil {
		return nil, fmt.Errorf("open cached layer %s of %s: %w", h, c.ref, err)
	}
	return l.Uncompressed()
}

// Commit implements Cache.
func (c *Image) Commit(ctx context.Context, meta *Metadata, add map[v1.Hash]*layer.Layer) error {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	seen := map[v1.Hash]bool{}
	var adds []mutate.Addendum
	for _, b := range meta.Buildpacks {
		for name, lm := range b.Layers {
			h, err := v1.NewHash(lm.SHA)
			if err != nil {
				return fmt.Errorf("cache layer %s:%s: bad sha %q: %w", b.ID, name, lm.SHA, err)
			}
			if seen[h] {
				continue
			}
			seen[h] = true
			var l v1.Layer
			if nl, ok := add[h]; ok {
				p := nl.Path()
				// The scratch tar is uncompressed; tarball gzips it for the registry.
				l, err = tarball.LayerFromOpener(func() (io.ReadCloser, error) { return os.Open(p) })
			} else if c.prev != nil {
				l, err = c.prev.LayerByDiffID(h)
			} else {
				err = errors.New("not in the cache image")
			}
			if err != nil {
				return fmt.Errorf("cache layer %s:%s: %w", b.ID, name, err)
			}
			adds = append(adds, mutate.Addendum{Layer: l, MediaType: types.OCILayer})
		}
	}
	img, err := mutate.Append(img, adds...)
	if err != nil {
		return fmt.Errorf("assemble cache image: %w", err)
	}
	raw, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("encode cache metadata: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("assemble cache image: %w", err)
	}
	cf = cf.DeepCopy()
	cf.Config.Labels = map[string]string{platform.LabelCacheMetadata: string(raw)}
	cf.OS, cf.Architecture = "linux", "amd64"
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return fmt.Errorf("assemble cache image: %w", err)
	}
	if _, err := registry.Write(ctx, c.ref, img, c.opts); err != nil {
		return fmt.Errorf("write cache image: %w", err)
	}
	for _, nl := range add {
		os.Remove(nl.Path())
	}
	return nil
}
