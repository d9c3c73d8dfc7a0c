package lifecycle

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipway/slipway/buildpack"
	"github.com/slipway/slipway/cache"
	"github.com/slipway/slipway/layer"
	"github.com/slipway/slipway/tomlfile"
)

// CacheExportInputs are what the exporter needs to write the cache (platform.md, exporter).
type CacheExportInputs struct {
	LayersDir string
	Group     []buildpack.GroupElement
	Cache     cache.Cache
	// Previous is the committed metadata; Restored lists layers the restorer untarred (their
	// fresh fingerprints map to known diffIDs, so they are not tarred again).
	Previous *cache.Metadata
	Restored []RestoredLayer
	UID, GID int
	Created  time.Time
	// Proceed, when set, is called once every changed layer is tarred, before the commit; an
	// error abandons the commit and is returned. It lets a platform tar the cache while it
	// exports the image and commit only once the image is written (platform.md, exporter:
	// the cache is written after the image).
	Proceed func() error
	// LagTars lets a changed cache-only layer keep its committed tar when its metadata and
	// build flag are unchanged and its directory's size moved by at most maxTarLag: the
	// entry records the directory as Live instead of tarring it again. Only for a cache
	// that sits beside the layers directory it caches (a platform's per-app volume cache),
	// where the next build finds that directory in place (docs/spec-notes.md, Caches).
	LagTars bool
}

// maxTarLag is how far (a fraction of the tarred bytes) a cache layer directory may grow
// or shrink before LagTars tars it again: a Go build cache grows by the few objects of a
// one-file change, and re-tarring its ~100 MB every build costs more than the change.
const maxTarLag = 0.10

// CachedLayer reports one cache layer.
type CachedLayer struct {
	Name   string // <bp-id>:<layer>
	DiffID string
	Reason string // "reused (unchanged)" or "rebuilt (why)"
}

// CacheExportReport lists the cache layers written.
type CacheExportReport struct {
	Layers   []CachedLayer
	Warnings []string
}

// ExportCache commits every cache=true layer to the cache. An unchanged layer (same
// fingerprint as its committed entry) costs no tar; changed ones are tarred in parallel.
// Problems with single layers are warnings (buildpack.md, Launch Layers; platform.md, Layer Restoration); only the commit itself
// can fail.
func ExportCache(ctx context.Context, in CacheExportInputs) (*CacheExportReport, error) {
	rep := &CacheExportReport{}
	opts := CacheLayerOptions(in.UID, in.GID, in.Created)
	opts.ScratchDir = in.Cache.ScratchDir()
	known := map[string]RestoredLayer{}
	for _, r := range in.Restored {
		known[r.Buildpack+":"+r.Name] = r
	}
	meta := &cache.Metadata{Buildpacks: []cache.BuildpackMetadata{}}
	type job struct {
		bp, name, dir, imagePath, fp string
		// lm is the SHA of an unchanged layer; entry, when set, is the whole entry to keep.
		lm     *cache.LayerMetadata
		entry  *cache.LayerMetadata
		cur    cache.LayerMetadata // from the layer's TOML
		size   int64
		l      *layer.Layer
		err    error
		reason string
	}
	var jobs []*job
	for _, bp := range in.Group {
		if bp.Extension {
			continue
		}
		esc := buildpack.EscapedID(bp.ID)
		bpDir := filepath.Join(in.LayersDir, esc)
		names, err := layerNames(in.LayersDir, esc)
		if err != nil {
			return nil, err
		}
		bm := cache.BuildpackMetadata{ID: bp.ID, Version: bp.Version, Layers: map[string]cache.LayerMetadata{}}
		for _, name := range names {
			var lt layerTOML
			if err := tomlfile.ReadIn(in.LayersDir, esc+"/"+name+".toml", &lt); err != nil {
				rep.Warnings = append(rep.Warnings, fmt.Sprintf("not caching layer %s:%s: %v", bp.ID, name, err))
				continue
			}
			if !lt.Types.Cache {
				continue
			}
			dir := filepath.Join(bpDir, name)
			if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
				rep.Warnings = append(rep.Warnings, fmt.Sprintf("layer %s:%s is cache=true but has no directory; not cached (buildpack.md, Launch Layers)", bp.ID, name))
				continue
			}
			lm := cache.LayerMetadata{Data: lt.Metadata, Build: lt.Types.Build, Launch: lt.Types.Launch, Cache: true}
			bm.Layers[name] = lm
			jobs = append(jobs, &job{bp: bp.ID, name: name, dir: dir, imagePath: layerImagePath(esc, name), cur: lm})
		}
		meta.Buildpacks = append(meta.Buildpacks, bm)
	}

	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if j.fp, j.err = layer.FingerprintDir(ctx, j.dir, j.imagePath, opts); j.err != nil {
				return
			}
			prev, ok := in.Previous.Layer(j.bp, j.name)
			if ok && prev.Fingerprint == j.fp && prev.SHA != "" {
				j.reason, j.lm = "reused (unchanged)", &cache.LayerMetadata{SHA: prev.SHA, Size: prev.Size}
				return
			}
			if ok && prev.Live != nil && prev.Live.Fingerprint == j.fp && prev.SHA != "" &&
				sameData(prev.Data, j.cur.Data) && prev.Build == j.cur.Build && !j.cur.Launch {
				j.reason, j.entry = "reused (unchanged, its tar still lags behind)", &prev
				return
			}
			if j.size, j.err = dirBytes(ctx, j.dir); j.err != nil {
				return
			}
			if r, ok := known[j.bp+":"+j.name]; ok && r.Fingerprint == j.fp && r.DiffID != "" {
				j.reason, j.lm = "reused (restored from the cache, unchanged)", &cache.LayerMetadata{SHA: r.DiffID, Size: j.size}
				return
			}
			if ok && in.LagTars && mayLag(in.Cache, prev, j.cur, j.size) {
				e := prev
				e.Live = &cache.LiveLayer{Fingerprint: j.fp, Size: j.size}
				j.entry = &e
				j.reason = fmt.Sprintf("kept its tar (directory %+d bytes since it was tarred, within %.0f%%)", j.size-prev.Size, maxTarLag*100)
				return
			}
			j.reason = "rebuilt (no previous cache entry)"
			if ok {
				j.reason = "rebuilt (contents changed)"
			}
			if j.l, j.err = layer.FromDir(ctx, j.dir, j.imagePath, opts); j.err == nil {
				// Flushed here, beside the image export, rather than in the commit after it.
				if j.err = syncPath(j.l.Path()); j.err != nil {
					j.l.Remove()
					j.l = nil
				}
			}
		}()
	}
	wg.Wait()
	add := map[v1.Hash]*layer.Layer{}
	for _, j := range jobs {
		bm := meta.Buildpack(j.bp)
		if j.err != nil {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("not caching layer %s:%s: %v", j.bp, j.name, j.err))
			delete(bm.Layers, j.name)
			continue
		}
		lm := bm.Layers[j.name]
		lm.Fingerprint = j.fp
		switch {
		case j.entry != nil:
			lm = *j.entry
		case j.l != nil:
			d, _ := j.l.DiffID()
			lm.SHA, lm.Size = d.String(), j.size
			add[d] = j.l
		default:
			lm.SHA, lm.Size = j.lm.SHA, j.lm.Size
		}
		bm.Layers[j.name] = lm
		rep.Layers = append(rep.Layers, CachedLayer{Name: j.bp + ":" + j.name, DiffID: lm.SHA, Reason: j.reason})
	}
	if in.Proceed != nil {
		if err := in.Proceed(); err != nil {
			for _, l := range add {
				l.Remove()
			}
			return rep, err
		}
	}
	if err := in.Cache.Commit(ctx, meta, add); err != nil {
		for _, l := range add {
			l.Remove()
		}
		return rep, err
	}
	return rep, nil
}

func syncPath(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", p, err)
	}
	return nil
}

// mayLag reports whether a changed layer (cur, size bytes now) may keep prev's tar: a
// cache-only layer with the same metadata and build flag, whose tar is committed, grown or
// shrunk by at most maxTarLag since it was tarred.
func mayLag(c cache.Cache, prev, cur cache.LayerMetadata, size int64) bool {
	committed, ok := c.(interface{ Has(v1.Hash) bool })
	if !ok || prev.SHA == "" || prev.Size <= 0 || prev.Launch || cur.Launch || prev.Build != cur.Build {
		return false
	}
	if !sameData(prev.Data, cur.Data) {
		return false
	}
	if d := size - prev.Size; float64(max(d, -d)) > maxTarLag*float64(prev.Size) {
		return false
	}
	h, err := v1.NewHash(prev.SHA)
	return err == nil && committed.Has(h)
}

// sameData compares layer metadata as the cache stores it (JSON: TOML's integers and
// JSON's numbers differ in Go but not once encoded).
func sameData(a, b map[string]any) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// dirBytes adds up the sizes of the regular files under dir.
func dirBytes(ctx context.Context, dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			n += fi.Size()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("size of %s: %w", dir, err)
	}
	return n, nil
}
