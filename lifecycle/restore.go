package lifecycle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipway/slipway/buildpack"
	"github.com/slipway/slipway/cache"
	"github.com/slipway/slipway/layer"
	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/tomlfile"
	"github.com/slipway/slipway/untar"
)

// RestoreInputs are the restorer's inputs (platform.md, restorer).
type RestoreInputs struct {
	// LayersDir may still hold the layers of the last build of this app: a cache=true layer
	// whose directory fingerprint equals the committed one is kept in place (no untar);
	// everything else the spec does not restore is removed.
	LayersDir string
	Group     []buildpack.GroupElement
	// Cache may be nil (no cache, or --clear-cache); CacheMetadata is its committed metadata.
	Cache         cache.Cache
	CacheMetadata *cache.Metadata
	// Previous is the previous image's io.buildpacks.lifecycle.metadata label, or nil.
	Previous *LayersMetadata
	// UID, GID and Created shape cache tars exactly like image layers, so their diffIDs and
	// fingerprints line up (CacheLayerOptions).
	UID, GID int
	Created  time.Time
	// Fingerprints are fingerprints of layer directories taken before the restore, keyed
	// "<escaped buildpack id>/<layer name>" (FingerprintKeptLayers); a directory without one
	// is fingerprinted here.
	Fingerprints map[string]string
	// Warn receives warnings (a corrupt cache entry is discarded with one, platform.md, Layer Restoration).
	Warn func(format string, args ...any)
}

// RestoredLayer is one layer whose metadata the restorer wrote.
type RestoredLayer struct {
	Buildpack, Name string
	// Contents is how the directory was restored: "kept (unchanged)", "kept (newer than its
	// cached tar)" (cache.LayerMetadata.Live), "untarred", or "" when only the metadata was
	// restored.
	Contents string
	// Fingerprint and DiffID describe the restored directory (cache layers only); DiffID is
	// empty for a directory newer than its tar.
	Fingerprint, DiffID string
}

// RestoreReport lists what was restored.
type RestoreReport struct {
	Layers []RestoredLayer
}

// CacheLayerOptions are the tar options of cache layers: those of the exporter's buildpack
// layers, uncompressed, so a launch+cache layer has one diffID in image and cache (docs/spec-notes.md, Layer reuse).
func CacheLayerOptions(uid, gid int, created time.Time) layer.Options {
	if created.IsZero() {
		created = layer.Epoch()
	}
	return layer.Options{UID: uid, GID: gid, ParentUID: uid, ParentGID: gid, ModTime: created.UTC(), Uncompressed: true}
}

// Restore prepares <layers> for the build following the table of buildpack.md, Layer Types: cache=true
// layers get their metadata and contents from the cache; a launch-only layer gets its
// metadata from the previous image label; store.toml comes from the label (platform.md, Layer Restoration); nothing
// else survives. Restored .toml files carry no [types] (buildpack.md, Layer Content Metadata (TOML)): the buildpack must set them
// again to keep the layer.
func Restore(ctx context.Context, in RestoreInputs) (*RestoreReport, error) {
	warn := in.Warn
	if warn == nil {
		warn = func(string, ...any) {}
	}
	rep := &RestoreReport{}
	if err := os.MkdirAll(in.LayersDir, 0o755); err != nil {
		return nil, fmt.Errorf("create layers dir: %w", err)
	}
	if err := validateGroup(in.Group); err != nil {
		return nil, err
	}
	keepBP := map[string]bool{}
	for _, bp := range in.Group {
		if !bp.Extension {
			keepBP[buildpack.EscapedID(bp.ID)] = true
		}
	}
	// Directories of earlier builds that belong to no group member, and the outputs of the
	// builder (config, sbom) go; top-level files (analyzed/group/plan.toml) stay.
	entries, err := os.ReadDir(in.LayersDir)
	if err != nil {
		return nil, fmt.Errorf("read layers dir: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() && !keepBP[e.Name()] {
			if err := os.RemoveAll(filepath.Join(in.LayersDir, e.Name())); err != nil {
				return nil, fmt.Errorf("clean layers dir: %w", err)
			}
		}
	}
	opts := CacheLayerOptions(in.UID, in.GID, in.Created)
	for _, bp := range in.Group {
		if bp.Extension {
			continue
		}
		if err := restoreBuildpack(ctx, in, bp, opts, warn, rep); err != nil {
			return nil, fmt.Errorf("restore layers of buildpack %s: %w", bp.Ref(), err)
		}
	}
	return rep, nil
}

func restoreBuildpack(ctx context.Context, in RestoreInputs, bp buildpack.GroupElement, opts layer.Options, warn func(string, ...any), rep *RestoreReport) error {
	esc := buildpack.EscapedID(bp.ID)
	bpDir := filepath.Join(in.LayersDir, esc)
	cached := in.CacheMetadata.Buildpack(bp.ID)
	if in.Cache == nil {
		cached = nil
	}
	// Decide which materialised cache layers can stay: same fingerprint as when committed,
	// or as the directory the cache records as newer than its tar (Live).
	kept := map[string]string{} // layer name → fingerprint
	entries, err := os.ReadDir(bpDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() && cached != nil {
			if lm, ok := cached.Layers[name]; ok && lm.Cache && lm.Fingerprint != "" {
				fp, ok := in.Fingerprints[esc+"/"+name]
				var err error
				if !ok {
					fp, err = layer.FingerprintDir(ctx, filepath.Join(bpDir, name), layerImagePath(esc, name), opts)
				}
				if err == nil && (fp == lm.Fingerprint || lm.Live != nil && fp == lm.Live.Fingerprint) {
					kept[name] = fp
					continue
				}
			}
		}
		if strings.Contains(name, ".sbom.") {
			continue // layer SBOMs follow their layer, below
		}
		if err := os.RemoveAll(filepath.Join(bpDir, name)); err != nil {
			return err
		}
	}
	// SBOMs of layers that did not stay in place.
	entries, _ = os.ReadDir(bpDir)
	for _, e := range entries {
		if base, _, ok := strings.Cut(e.Name(), ".sbom."); ok {
			if _, keep := kept[base]; !keep {
				os.RemoveAll(filepath.Join(bpDir, e.Name()))
			}
		}
	}
	if err := os.MkdirAll(bpDir, 0o755); err != nil {
		return err
	}

	// buildpack.md, Layer Types rows build=any, cache=T: metadata and contents from the cache.
	if cached != nil {
		for name, lm := range cached.Layers {
			if !lm.Cache {
				continue
			}
			// The cache is as untrusted as its registry: its names become paths.
			if err := buildpack.ValidateLayerName(name); err != nil {
				warn("cache of buildpack %s: layer %q is skipped: %v", bp.ID, name, err)
				continue
			}
			rl := RestoredLayer{Buildpack: bp.ID, Name: name, DiffID: lm.SHA}
			if fp, ok := kept[name]; ok {
				rl.Contents, rl.Fingerprint = "kept (unchanged)", fp
				if fp != lm.Fingerprint {
					rl.Contents, rl.DiffID = "kept (newer than its cached tar)", ""
				}
			} else {
				fp, err := untarLayer(ctx, in.Cache, lm.SHA, in.LayersDir, esc, name, opts)
				if err != nil {
					os.RemoveAll(filepath.Join(bpDir, name))
					warn("cache layer %s:%s (%s) is unusable and was discarded: %v; the buildpack will recreate it", bp.ID, name, lm.SHA, err)
					continue
				}
				rl.Contents, rl.Fingerprint = "untarred", fp
			}
			if err := writeRestoredTOML(filepath.Join(bpDir, name+".toml"), lm.Data); err != nil {
				return err
			}
			rep.Layers = append(rep.Layers, rl)
		}
	}
	if in.Previous != nil {
		for _, b := range in.Previous.Buildpacks {
			if b.ID != bp.ID {
				continue
			}
			// Row build=F, cache=F, launch=T: metadata from the image label, no contents; the
			// buildpack may keep the layer by rewriting only its .toml (buildpack.md, Launch Layers).
			for name, lm := range b.Layers {
				if err := buildpack.ValidateLayerName(name); err != nil {
					warn("previous image: layer %q of buildpack %s is skipped: %v", name, bp.ID, err)
					continue
				}
				if lm.Launch && !lm.Build && !lm.Cache {
					if err := writeRestoredTOML(filepath.Join(bpDir, name+".toml"), lm.Data); err != nil {
						return err
					}
					rep.Layers = append(rep.Layers, RestoredLayer{Buildpack: bp.ID, Name: name})
				}
			}
			// store.toml is restored even when nothing else is (platform.md, Layer Restoration).
			if b.Store != nil {
				if err := tomlfile.Write(filepath.Join(bpDir, "store.toml"), b.Store); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// FingerprintKeptLayers fingerprints, concurrently, the directory of every cache=true layer
// that the last build left in layersDir, for RestoreInputs.Fingerprints. A platform runs it
// while the detector runs, which writes no layer (buildpack.md, Detection), so a restore of
// large unchanged layers (a toolchain) waits for no walk of them. Layers it cannot read are
// left out; Restore fingerprints those itself.
func FingerprintKeptLayers(ctx context.Context, layersDir string, uid, gid int, created time.Time) map[string]string {
	opts := CacheLayerOptions(uid, gid, created)
	type job struct{ key, dir, imagePath, fp string }
	var jobs []*job
	bps, _ := os.ReadDir(layersDir)
	for _, bp := range bps {
		if !bp.IsDir() {
			continue
		}
		esc := bp.Name()
		names, err := layerNames(layersDir, esc)
		if err != nil {
			continue
		}
		for _, name := range names {
			var lt layerTOML
			if err := tomlfile.ReadIn(layersDir, esc+"/"+name+".toml", &lt); err != nil || !lt.Types.Cache {
				continue
			}
			dir := filepath.Join(layersDir, esc, name)
			if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
				continue
			}
			jobs = append(jobs, &job{key: esc + "/" + name, dir: dir, imagePath: layerImagePath(esc, name)})
		}
	}
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			j.fp, _ = layer.FingerprintDir(ctx, j.dir, j.imagePath, opts)
		}()
	}
	wg.Wait()
	out := map[string]string{}
	for _, j := range jobs {
		if j.fp != "" {
			out[j.key] = j.fp
		}
	}
	return out
}

func layerImagePath(escapedID, name string) string {
	return path.Join(platform.LayersDir, escapedID, name)
}

// restoredTOML is a layer TOML as restored: [metadata] only, never [types] (buildpack.md, Layer Content Metadata (TOML)).
type restoredTOML struct {
	Metadata map[string]any `toml:"metadata"`
}

func writeRestoredTOML(p string, data map[string]any) error {
	return tomlfile.Write(p, restoredTOML{Metadata: data})
}

// untarLayer extracts the cached tar of diffID sha into <layers>/<esc>/<name>, verifying the
// diffID while reading; on a mismatch the caller discards the directory (platform.md, Layer Restoration).
// It returns the fingerprint of the extracted directory.
func untarLayer(ctx context.Context, c cache.Cache, sha, layersDir, esc, name string, opts layer.Options) (string, error) {
	want, err := v1.NewHash(sha)
	if err != nil {
		return "", fmt.Errorf("bad sha %q: %w", sha, err)
	}
	rc, err := c.Open(ctx, want)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	dst := filepath.Join(layersDir, esc, name)
	if err := os.RemoveAll(dst); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return "", err
	}
	h := sha256.New()
	prefix := strings.TrimPrefix(layerImagePath(esc, name), "/")
	// Archive semantics: a cache is as untrusted as the registry it came from, so nothing
	// in it may land outside the layer directory or write through a symlink.
	err = untar.Into(ctx, io.TeeReader(rc, h), dst, untar.Options{AbsoluteNames: true, Select: func(n string) (string, bool) {
		if n == prefix {
			return ".", true
		}
		rel, ok := strings.CutPrefix(n, prefix+"/")
		return rel, ok // parent directories layers/ and layers/<bp>/ are skipped
	}})
	if err != nil {
		return "", fmt.Errorf("extract cached layer %s: %w", sha, err)
	}
	if _, err := io.Copy(io.Discard, io.TeeReader(rc, h)); err != nil {
		return "", fmt.Errorf("read cached tar: %w", err)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != sha {
		return "", fmt.Errorf("digest mismatch: the cached tar hashes to %s", got)
	}
	return layer.FingerprintDir(ctx, dst, layerImagePath(esc, name), opts)
}
