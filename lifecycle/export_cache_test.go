package lifecycle

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipway/slipway/buildpack"
	"github.com/slipway/slipway/cache"
	"github.com/slipway/slipway/internal/testkit"
)

// With LagTars, a cache-only layer whose directory grew a little keeps its committed tar: no
// new tar is written, the entry records the directory as Live, and the next restore keeps
// that directory in place. A directory that no longer matches falls back to the older tar
// (consistent with the entry's metadata); growth past maxTarLag, changed metadata, a
// launch layer or a platform without LagTars tar the layer again.
func TestCacheTarLagsBehindGrowingLayer(t *testing.T) {
	ctx := context.Background()
	group := []buildpack.GroupElement{{ID: "example/bp", Version: "1.0.0", API: "0.12"}}
	uid, gid := os.Getuid(), os.Getgid()
	layers := t.TempDir()
	bpDir := filepath.Join(layers, "example_bp")
	testkit.WriteFiles(t, bpDir, map[string]string{
		"gocache/big":  strings.Repeat("x", 100_000),
		"gocache.toml": "[types]\ncache = true\n[metadata]\nkind = \"objects\"\n",
	})
	cacheRoot := filepath.Join(t.TempDir(), "cache")
	c, err := cache.OpenDir(cacheRoot, cache.DirOptions{})
	testkit.NoErr(t, err)
	defer c.Close()
	export := func(lag bool) (CachedLayer, cache.LayerMetadata) {
		t.Helper()
		prev, err := c.Metadata(ctx)
		testkit.NoErr(t, err)
		rep, err := ExportCache(ctx, CacheExportInputs{LayersDir: layers, Group: group, Cache: c, Previous: prev, UID: uid, GID: gid, LagTars: lag})
		testkit.NoErr(t, err)
		if len(rep.Layers) != 1 || len(rep.Warnings) != 0 {
			t.Fatalf("cache export: %+v", rep)
		}
		meta, err := c.Metadata(ctx)
		testkit.NoErr(t, err)
		lm, _ := meta.Layer("example/bp", "gocache")
		return rep.Layers[0], lm
	}
	tars := func() int {
		t.Helper()
		m, _ := filepath.Glob(filepath.Join(cacheRoot, "committed", "*.tar"))
		return len(m)
	}
	restore := func() RestoredLayer {
		t.Helper()
		meta, err := c.Metadata(ctx)
		testkit.NoErr(t, err)
		rep, err := Restore(ctx, RestoreInputs{LayersDir: layers, Group: group, Cache: c, CacheMetadata: meta, UID: uid, GID: gid,
			Fingerprints: FingerprintKeptLayers(ctx, layers, uid, gid, time.Time{})})
		testkit.NoErr(t, err)
		if len(rep.Layers) != 1 {
			t.Fatalf("restored %+v", rep.Layers)
		}
		// The buildpack writes its TOML again on every build (restored ones carry no [types]).
		testkit.WriteFiles(t, bpDir, map[string]string{"gocache.toml": "[types]\ncache = true\n[metadata]\nkind = \"objects\"\n"})
		return rep.Layers[0]
	}

	first, base := export(true)
	if !strings.HasPrefix(first.Reason, "rebuilt") || base.Size != 100_000 || base.Live != nil {
		t.Fatalf("first export: %+v %+v; want a tar of 100000 bytes", first, base)
	}

	// A few new objects (2%): the tar stays, the directory is recorded as Live.
	testkit.WriteFiles(t, bpDir, map[string]string{"gocache/new1": strings.Repeat("y", 2_000)})
	got, lm := export(true)
	if !strings.HasPrefix(got.Reason, "kept its tar") || lm.SHA != base.SHA || lm.Live == nil || lm.Live.Size != 102_000 || tars() != 1 {
		t.Fatalf("grown 2%%: %+v %+v (%d tars); want the old tar kept and the directory Live", got, lm, tars())
	}
	if r := restore(); r.Contents != "kept (newer than its cached tar)" || r.DiffID != "" {
		t.Fatalf("restore of the Live directory: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(bpDir, "gocache", "new1")); err != nil {
		t.Fatalf("the Live directory lost its new file: %v", err)
	}
	got, again := export(true)
	if !strings.HasPrefix(got.Reason, "reused (unchanged, its tar still lags behind)") || again.SHA != base.SHA || again.Live == nil || again.Live.Fingerprint != lm.Live.Fingerprint {
		t.Fatalf("unchanged Live directory: %+v %+v", got, again)
	}

	// The directory changes behind the cache's back (a build killed midway): the older
	// tar comes back, without the new object.
	testkit.WriteFiles(t, bpDir, map[string]string{"gocache/new1": strings.Repeat("z", 2_000)})
	if r := restore(); r.Contents != "untarred" || r.DiffID != base.SHA {
		t.Fatalf("restore of a changed Live directory: %+v; want the tar %s", r, base.SHA)
	}
	if _, err := os.Stat(filepath.Join(bpDir, "gocache", "new1")); !os.IsNotExist(err) {
		t.Fatalf("the older tar restored new1: %v", err)
	}

	// Past maxTarLag (now +15% since the tar): tarred again.
	testkit.WriteFiles(t, bpDir, map[string]string{"gocache/new2": strings.Repeat("w", 15_000)})
	got, lm = export(true)
	if !strings.HasPrefix(got.Reason, "rebuilt") || lm.SHA == base.SHA || lm.Live != nil || lm.Size != 115_000 {
		t.Fatalf("grown 15%%: %+v %+v; want a new tar", got, lm)
	}
	base = lm

	// Small growth again, but each of these tars: no LagTars, changed metadata, a launch layer.
	for _, tc := range []struct {
		name, toml string
		lag        bool
	}{
		{"no LagTars", "[types]\ncache = true\n[metadata]\nkind = \"objects\"\n", false},
		{"metadata changed", "[types]\ncache = true\n[metadata]\nkind = \"other\"\n", true},
		{"launch layer", "[types]\ncache = true\nlaunch = true\n[metadata]\nkind = \"other\"\n", true},
	} {
		testkit.WriteFiles(t, bpDir, map[string]string{"gocache/" + tc.name: "n", "gocache.toml": tc.toml})
		got, lm := export(tc.lag)
		if !strings.HasPrefix(got.Reason, "rebuilt") || lm.SHA == base.SHA || lm.Live != nil {
			t.Errorf("%s: %+v %+v; want a new tar", tc.name, got, lm)
		}
		base = lm
	}
}
