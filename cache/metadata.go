package cache

import (
	"context"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipway/slipway/layer"
)

// Metadata is the cache metadata document, JSON as the reference lifecycle writes it.
type Metadata struct {
	Buildpacks []BuildpackMetadata `json:"buildpacks"`
}

// BuildpackMetadata is one buildpack's cached layers.
type BuildpackMetadata struct {
	ID      string                   `json:"key"`
	Version string                   `json:"version"`
	Layers  map[string]LayerMetadata `json:"layers"`
}

// LayerMetadata is one cached layer: the diffID of its tar, its TOML [metadata] and flags.
type LayerMetadata struct {
	SHA    string         `json:"sha"`
	Data   map[string]any `json:"data"`
	Build  bool           `json:"build"`
	Launch bool           `json:"launch"`
	Cache  bool           `json:"cache"`
	// Fingerprint is slipway's host-local summary of the layer directory when it was cached
	// (layer.FingerprintDir); the reference lifecycle ignores the key. A materialised layer
	// whose fingerprint still matches is not untarred again.
	Fingerprint string `json:"slipway.fingerprint,omitempty"`
	// Size is the bytes of regular files in the layer directory when it was tarred
	// (slipway's; the reference lifecycle ignores the key).
	Size int64 `json:"slipway.size,omitempty"`
	// Live, when set, is the directory the last build on this host left in place, newer
	// than the tar: slipway lets the tar of a cache-only layer in an app's own volume cache
	// lag behind a directory that only grew a little (docs/spec-notes.md, Caches). SHA,
	// Data and the flags still describe the tar, so a reader that ignores Live restores an
	// older but consistent layer.
	Live *LiveLayer `json:"slipway.live,omitempty"`
}

// LiveLayer is a cache layer directory newer than its committed tar.
type LiveLayer struct {
	// Fingerprint is the directory's layer.FingerprintDir: a directory that still has it is
	// kept in place. Its metadata is the entry's Data (a changed one means a new tar).
	Fingerprint string `json:"fingerprint"`
	// Size is the bytes of regular files in the directory.
	Size int64 `json:"size"`
}

// Layer returns the cached layer name of buildpack id.
func (m *Metadata) Layer(id, name string) (LayerMetadata, bool) {
	if m == nil {
		return LayerMetadata{}, false
	}
	for _, b := range m.Buildpacks {
		if b.ID == id {
			l, ok := b.Layers[name]
			return l, ok
		}
	}
	return LayerMetadata{}, false
}

// Buildpack returns the entry of buildpack id, or nil.
func (m *Metadata) Buildpack(id string) *BuildpackMetadata {
	if m == nil {
		return nil
	}
	for i := range m.Buildpacks {
		if m.Buildpacks[i].ID == id {
			return &m.Buildpacks[i]
		}
	}
	return nil
}

// Cache is a build cache backend: a Dir or an Image.
type Cache interface {
	// Metadata is the committed metadata; empty (never nil) when nothing was committed yet.
	Metadata(ctx context.Context) (*Metadata, error)
	// Open streams the uncompressed tar of the committed layer with diffID h. The caller
	// verifies the digest while reading (platform.md, Layer Restoration).
	Open(ctx context.Context, h v1.Hash) (io.ReadCloser, error)
	// ScratchDir is where new layer tars are written before Commit (same filesystem as the
	// cache, so committing them is a rename).
	ScratchDir() string
	// Commit replaces the committed cache with meta. Every sha in meta is either already
	// committed or in add (uncompressed tars made with layer.Options.Uncompressed). Either the
	// old or the new cache survives a crash at any point.
	Commit(ctx context.Context, meta *Metadata, add map[v1.Hash]*layer.Layer) error
	// Close releases the cache lock.
	Close() error
}
