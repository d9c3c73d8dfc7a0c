package lifecycle

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipway/slipway/buildpack"
	"github.com/slipway/slipway/cache"
	"github.com/slipway/slipway/internal/testkit"
)

// restoreRow is one row of the layer table of buildpack.md, Layer Types.
type restoreRow struct {
	build, cache, launch bool
	// wantTOML is the [metadata] value the restored <layer>.toml must carry ("" = no .toml);
	// wantContents says whether the layer directory comes back from the cache.
	wantTOML     string
	wantContents bool
}

func (r restoreRow) name() string {
	b := func(v bool) string {
		if v {
			return "T"
		}
		return "F"
	}
	return "b" + b(r.build) + "c" + b(r.cache) + "l" + b(r.launch)
}

// buildpack.md, Layer Types; platform.md, Layer Restoration: every row of the restore table, with
// the cache written by ExportCache and the previous image's label as analyzed.toml carries it.
// Only cache contents are ever restored; launch-only layers get their metadata from the image
// label; store.toml always comes back; restored .toml files never carry [types].
func TestRestoreTableRows(t *testing.T) {
	ctx := context.Background()
	rows := []restoreRow{
		{build: true, cache: true, launch: true, wantTOML: "cache", wantContents: true},
		{build: true, cache: true, launch: false, wantTOML: "cache", wantContents: true},
		{build: true, cache: false, launch: true},
		{build: true, cache: false, launch: false},
		{build: false, cache: true, launch: true, wantTOML: "cache", wantContents: true},
		{build: false, cache: true, launch: false, wantTOML: "cache", wantContents: true},
		{build: false, cache: false, launch: true, wantTOML: "image"},
		{build: false, cache: false, launch: false},
	}
	group := []buildpack.GroupElement{{ID: "example/bp", Version: "1.0.0", API: "0.12"}}
	uid, gid := os.Getuid(), os.Getgid()

	// The last build: every row's layer on disk, committed to a volume cache.
	last := t.TempDir()
	bpDir := filepath.Join(last, "example_bp")
	for _, r := range rows {
		testkit.WriteFiles(t, bpDir, map[string]string{
			r.name() + "/data": "contents of " + r.name(),
			r.name() + ".toml": fmt.Sprintf("[types]\nbuild = %v\ncache = %v\nlaunch = %v\n[metadata]\nfrom = \"cache\"\n", r.build, r.cache, r.launch),
		})
	}
	c, err := cache.OpenDir(filepath.Join(t.TempDir(), "cache"), cache.DirOptions{})
	testkit.NoErr(t, err)
	defer c.Close()
	crep, err := ExportCache(ctx, CacheExportInputs{LayersDir: last, Group: group, Cache: c, Previous: &cache.Metadata{}, UID: uid, GID: gid})
	testkit.NoErr(t, err)
	if len(crep.Warnings) != 0 {
		t.Fatalf("cache export warnings: %v", crep.Warnings)
	}
	meta, err := c.Metadata(ctx)
	testkit.NoErr(t, err)

	// The previous image's label: every launch=true layer, with metadata that says "image".
	prev := &LayersMetadata{Buildpacks: []BuildpackLayersMetadata{{
		ID: "example/bp", Version: "1.0.0", Layers: map[string]BuildpackLayerMetadata{},
		Store: &BuildpackStore{Metadata: map[string]any{"runs": int64(3)}},
	}}}
	for _, r := range rows {
		if r.launch {
			prev.Buildpacks[0].Layers[r.name()] = BuildpackLayerMetadata{
				SHA: "sha256:" + strings.Repeat("a", 64), Data: map[string]any{"from": "image"},
				Build: r.build, Launch: r.launch, Cache: r.cache,
			}
		}
	}

	layers := t.TempDir()
	rep, err := Restore(ctx, RestoreInputs{LayersDir: layers, Group: group, Cache: c, CacheMetadata: meta,
		Previous: prev, UID: uid, GID: gid})
	testkit.NoErr(t, err)
	restored := map[string]RestoredLayer{}
	for _, l := range rep.Layers {
		restored[l.Name] = l
	}
	for _, r := range rows {
		t.Run(r.name(), func(t *testing.T) {
			dir := filepath.Join(layers, "example_bp")
			b, err := os.ReadFile(filepath.Join(dir, r.name()+".toml"))
			switch {
			case r.wantTOML == "" && err == nil:
				t.Errorf("%s.toml restored, want none:\n%s", r.name(), b)
			case r.wantTOML != "" && err != nil:
				t.Errorf("%s.toml not restored: %v", r.name(), err)
			case r.wantTOML != "":
				if !strings.Contains(string(b), fmt.Sprintf("from = %q", r.wantTOML)) {
					t.Errorf("%s.toml = %q, want metadata from the %s", r.name(), b, r.wantTOML)
				}
				if strings.Contains(string(b), "[types]") {
					t.Errorf("%s.toml carries [types]; restored metadata never does:\n%s", r.name(), b)
				}
				if _, ok := restored[r.name()]; !ok {
					t.Errorf("%s restored but not in the report %+v", r.name(), rep.Layers)
				}
			}
			data, err := os.ReadFile(filepath.Join(dir, r.name(), "data"))
			if r.wantContents {
				if err != nil || string(data) != "contents of "+r.name() {
					t.Errorf("contents of %s: %q, %v; want restored from the cache", r.name(), data, err)
				}
			} else if err == nil || !os.IsNotExist(err) {
				if _, serr := os.Stat(filepath.Join(dir, r.name())); serr == nil {
					t.Errorf("directory of %s restored, want none", r.name())
				}
			}
		})
	}
	b, err := os.ReadFile(filepath.Join(layers, "example_bp", "store.toml"))
	if err != nil || !strings.Contains(string(b), "runs = 3") {
		t.Errorf("store.toml = %q, %v; want the previous image's store", b, err)
	}
}

// FingerprintKeptLayers gives the fingerprints Restore would take of the cache layers a
// build left in place (so a platform can take them while detect runs): with them the layer
// is kept without a walk; a stale one (the directory changed afterwards) is not trusted
// blindly, it sends the layer back to the cache's tar. A Proceed error abandons the cache
// commit.
func TestRestoreWithPrecomputedFingerprints(t *testing.T) {
	ctx := context.Background()
	group := []buildpack.GroupElement{{ID: "example/bp", Version: "1.0.0", API: "0.12"}}
	uid, gid := os.Getuid(), os.Getgid()
	layers := t.TempDir()
	testkit.WriteFiles(t, filepath.Join(layers, "example_bp"), map[string]string{
		"tool/bin/tool": "v1",
		"tool.toml":     "[types]\ncache = true\n",
		"app/a":         "launch only",
		"app.toml":      "[types]\nlaunch = true\n",
	})
	c, err := cache.OpenDir(filepath.Join(t.TempDir(), "cache"), cache.DirOptions{})
	testkit.NoErr(t, err)
	defer c.Close()
	_, err = ExportCache(ctx, CacheExportInputs{LayersDir: layers, Group: group, Cache: c, Previous: &cache.Metadata{}, UID: uid, GID: gid,
		Proceed: func() error { return fmt.Errorf("image not written") }})
	if err == nil || !strings.Contains(err.Error(), "image not written") {
		t.Fatalf("ExportCache with a failing Proceed: %v", err)
	}
	if meta, _ := c.Metadata(ctx); meta != nil && len(meta.Buildpacks) != 0 {
		t.Fatalf("abandoned cache export committed %+v", meta)
	}
	_, err = ExportCache(ctx, CacheExportInputs{LayersDir: layers, Group: group, Cache: c, Previous: &cache.Metadata{}, UID: uid, GID: gid,
		Proceed: func() error { return nil }})
	testkit.NoErr(t, err)
	meta, err := c.Metadata(ctx)
	testkit.NoErr(t, err)

	fps := FingerprintKeptLayers(ctx, layers, uid, gid, time.Time{})
	if len(fps) != 1 || fps["example_bp/tool"] != meta.Buildpacks[0].Layers["tool"].Fingerprint {
		t.Fatalf("fingerprints %v; want only example_bp/tool = the committed %q", fps, meta.Buildpacks[0].Layers["tool"].Fingerprint)
	}
	rep, err := Restore(ctx, RestoreInputs{LayersDir: layers, Group: group, Cache: c, CacheMetadata: meta, UID: uid, GID: gid, Fingerprints: fps})
	testkit.NoErr(t, err)
	if len(rep.Layers) != 1 || rep.Layers[0].Contents != "kept (unchanged)" {
		t.Fatalf("restore with the fingerprint: %+v; want tool kept", rep.Layers)
	}

	// A fingerprint that no longer matches the committed one: the directory is replaced
	// by the cache's contents.
	testkit.WriteFiles(t, filepath.Join(layers, "example_bp"), map[string]string{"tool/bin/tool": "edited"})
	rep, err = Restore(ctx, RestoreInputs{LayersDir: layers, Group: group, Cache: c, CacheMetadata: meta, UID: uid, GID: gid,
		Fingerprints: FingerprintKeptLayers(ctx, layers, uid, gid, time.Time{})})
	testkit.NoErr(t, err)
	b, _ := os.ReadFile(filepath.Join(layers, "example_bp", "tool", "bin", "tool"))
	if len(rep.Layers) != 1 || rep.Layers[0].Contents != "untarred" || string(b) != "v1" {
		t.Fatalf("restore after an edit: %+v, tool = %q; want untarred v1", rep.Layers, b)
	}
}
