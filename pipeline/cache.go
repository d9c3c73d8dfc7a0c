package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipway/slipway/atomicfile"
	"github.com/slipway/slipway/buildpack"
	"github.com/slipway/slipway/cache"
	"github.com/slipway/slipway/imagestore"
	"github.com/slipway/slipway/lifecycle"
	"github.com/slipway/slipway/logging"
	"github.com/slipway/slipway/registry"
	"github.com/slipway/slipway/tomlfile"
)

// openCache opens the build cache: --cache-image, --cache-dir, or the per-app volume cache
// under the work dir (what pack does by default).
func openCache(ctx context.Context, o Options, dirs *appDirs, log *logging.Logger) (cache.Cache, *cache.Metadata, error) {
	dir := o.CacheDir
	if dir == "" {
		dir = filepath.Join(dirs.root, "cache")
	}
	return cache.Open(ctx, cache.Options{
		Image: o.CacheImage, Dir: dir, Registry: o.Registry, Scratch: filepath.Join(dirs.root, "cache-scratch"),
		Waiting: func() { log.Infof("waiting for another build using the cache %s", dir) },
		Hook:    o.Hook,
	}, log.Warnf)
}

// exportState is what the last export of this image on this host built each layer from;
// it lets the next export reuse unchanged layers (lifecycle.ExportInputs.Reuse). It is a hint:
// a stale or missing file only costs a rebuild of the layers.
type exportState struct {
	Image  string                                `json:"image"`
	Layers map[string]lifecycle.LayerFingerprint `json:"layers"`
}

func readExportState(dirs *appDirs) map[string]lifecycle.LayerFingerprint {
	b, err := os.ReadFile(filepath.Join(dirs.root, "export-state.json"))
	if err != nil {
		return nil
	}
	var s exportState
	if json.Unmarshal(b, &s) != nil {
		return nil
	}
	return s.Layers
}

func writeExportState(dirs *appDirs, image string, rep *lifecycle.ExportReport) error {
	s := exportState{Image: image, Layers: map[string]lifecycle.LayerFingerprint{}}
	for _, l := range rep.Layers {
		if l.Fingerprint != "" {
			s.Layers[l.Name] = lifecycle.LayerFingerprint{Fingerprint: l.Fingerprint, DiffID: l.DiffID.String()}
		}
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dirs.root, "export-state.json"), b, 0o644)
}

// imageSource finds images for the analyzer: the local store first (unless publishing, where
// the previous image lives in the registry), then the registry.
type imageSource struct {
	store     *imagestore.Store
	reg       registry.Options
	storeOnly bool // previous image of a local build: never ask a registry
	regOnly   bool // previous image of a published build
}

func (s imageSource) Image(ctx context.Context, ref string) (v1.Image, error) {
	if s.store != nil && !s.regOnly {
		img, err := s.store.Image(ref)
		if err == nil {
			return img, nil
		}
		var nf *imagestore.NotFoundError
		if !errors.As(err, &nf) {
			return nil, fmt.Errorf("read image %s from the local store: %w", ref, err)
		}
		if s.storeOnly {
			return nil, fmt.Errorf("%s: %w", ref, lifecycle.ErrImageNotFound)
		}
	}
	img, err := registry.Image(ctx, ref, s.reg)
	var re *registry.Error
	if errors.As(err, &re) && re.Kind == registry.KindNotFound {
		return nil, fmt.Errorf("%w: %w", lifecycle.ErrImageNotFound, err)
	}
	return img, err
}

// warnUntypedRestored warns loudly about the trap of buildpack.md, Layer Content Metadata (TOML): a restored cache layer
// whose buildpack did not write [types] again is dropped from the image and the cache.
func warnUntypedRestored(layersDir string, restored []lifecycle.RestoredLayer, log *logging.Logger) {
	for _, r := range restored {
		if r.Contents == "" {
			continue
		}
		var t struct {
			Types map[string]bool `toml:"types"`
		}
		// Written by the buildpack: read without following links (nofollow).
		if err := tomlfile.ReadIn(layersDir, buildpack.EscapedID(r.Buildpack)+"/"+r.Name+".toml", &t); err != nil {
			continue
		}
		if !t.Types["launch"] && !t.Types["build"] && !t.Types["cache"] {
			log.Warnf("!!! buildpack %s reused the restored cache layer %q but did not set [types] in %s.toml again: the layer is now DROPPED from the image and from the cache (buildpack.md, Layer Content Metadata (TOML)). The buildpack must write launch/build/cache = true on every build.", r.Buildpack, r.Name, r.Name)
		}
	}
}
