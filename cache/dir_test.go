package cache

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipway/slipway/layer"
	"github.com/slipway/slipway/platform"
)

// newLayer makes an uncompressed cache tar of one file in scratch (what ExportCache does).
func newLayer(t *testing.T, scratch, content string) *layer.Layer {
	t.Helper()
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f.txt"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := layer.FromDir(context.Background(), src, "/layers/bp/l", layer.Options{ScratchDir: scratch, Uncompressed: true})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func diffID(t *testing.T, l *layer.Layer) v1.Hash {
	t.Helper()
	h, err := l.DiffID()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func metaFor(h v1.Hash, marker string) *Metadata {
	return &Metadata{Buildpacks: []BuildpackMetadata{{ID: "test/bp", Version: "1", Layers: map[string]LayerMetadata{
		"l": {SHA: h.String(), Cache: true, Data: map[string]any{"marker": marker}},
	}}}}
}

// committedMarker is the marker of the committed metadata, "" for an empty cache; it also
// checks that the tar the metadata names is there and readable.
func committedMarker(t *testing.T, d *Dir) string {
	t.Helper()
	m, err := d.Metadata(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	l, ok := m.Layer("test/bp", "l")
	if !ok {
		return ""
	}
	h, err := v1.NewHash(l.SHA)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := d.Open(context.Background(), h)
	if err != nil {
		t.Fatalf("metadata names %s but its tar is gone: %v", h, err)
	}
	defer rc.Close()
	if _, err := io.Copy(io.Discard, rc); err != nil {
		t.Fatal(err)
	}
	return l.Data["marker"].(string)
}

type crash struct{ point string }

// docs/spec-notes.md, Caches: a crash at each step of the staging → committed swap leaves the old
// or the new cache, never neither; reopening recovers and cleans up.
func TestDirCommitSurvivesCrashAtEachStep(t *testing.T) {
	cases := []struct {
		point string
		want  string // which cache survives
	}{
		{"cache-staged", "old"},   // staging written, committed untouched
		{"cache-swapping", "old"}, // committed renamed to backup, staging not yet in place
		{"cache-swapped", "new"},  // staging renamed to committed, backup not yet removed
	}
	for _, c := range cases {
		t.Run(c.point, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "cache")
			d, err := OpenDir(root, DirOptions{})
			if err != nil {
				t.Fatal(err)
			}
			l1 := newLayer(t, d.ScratchDir(), "one")
			if err := d.Commit(context.Background(), metaFor(diffID(t, l1), "old"), map[v1.Hash]*layer.Layer{diffID(t, l1): l1}); err != nil {
				t.Fatal(err)
			}
			d.hook = func(p string) {
				if p == c.point {
					panic(crash{p})
				}
			}
			l2 := newLayer(t, d.ScratchDir(), "two")
			func() {
				defer func() {
					if r := recover(); r == nil {
						t.Fatalf("hook %s never ran", c.point)
					}
				}()
				d.Commit(context.Background(), metaFor(diffID(t, l2), "new"), map[v1.Hash]*layer.Layer{diffID(t, l2): l2})
			}()
			d.Close()

			d, err = OpenDir(root, DirOptions{})
			if err != nil {
				t.Fatalf("reopen after crash at %s: %v", c.point, err)
			}
			defer d.Close()
			if got := committedMarker(t, d); got != c.want {
				t.Fatalf("after a crash at %s the cache is %q, want %q", c.point, got, c.want)
			}
			for _, leftover := range []string{stagingDir, backupDir} {
				if exists(filepath.Join(root, leftover)) {
					t.Errorf("%s left behind after recovery", leftover)
				}
			}
			// The recovered cache takes the next commit.
			l3 := newLayer(t, d.ScratchDir(), "three")
			if err := d.Commit(context.Background(), metaFor(diffID(t, l3), "next"), map[v1.Hash]*layer.Layer{diffID(t, l3): l3}); err != nil {
				t.Fatal(err)
			}
			if got := committedMarker(t, d); got != "next" {
				t.Fatalf("commit after recovery: cache %q", got)
			}
		})
	}
}

// Two openers of one cache: the second waits (and says so) until the first closes.
func TestDirLockExcludesSecondOpener(t *testing.T) {
	root := filepath.Join(t.TempDir(), "cache")
	first, err := OpenDir(root, DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waiting := make(chan struct{})
	opened := make(chan *Dir)
	go func() {
		d, err := OpenDir(root, DirOptions{Waiting: func() { close(waiting) }})
		if err != nil {
			t.Error(err)
		}
		opened <- d
	}()
	<-waiting
	select {
	case <-opened:
		t.Fatal("second opener got the cache while the first held it")
	default:
	}
	first.Close()
	second := <-opened
	if second == nil {
		t.Fatal("second opener failed")
	}
	second.Close()
}

// platform.md, Layer Restoration: unusable cache contents are reported, never half-used.
func TestDirCorruptEntries(t *testing.T) {
	cases := []struct {
		name    string
		corrupt func(t *testing.T, root string, h v1.Hash)
		check   func(t *testing.T, d *Dir, h v1.Hash)
	}{
		{"metadata that does not parse", func(t *testing.T, root string, _ v1.Hash) {
			writeCorrupt(t, filepath.Join(root, committedDir, platform.LabelCacheMetadata), "{not json")
		}, func(t *testing.T, d *Dir, _ v1.Hash) {
			if _, err := d.Metadata(context.Background()); err == nil {
				t.Error("corrupt metadata read without error")
			}
		}},
		{"tar named by the metadata is missing", func(t *testing.T, root string, h v1.Hash) {
			os.Remove(filepath.Join(root, committedDir, tarName(h)))
		}, func(t *testing.T, d *Dir, h v1.Hash) {
			if d.Has(h) {
				t.Error("Has reports a missing tar")
			}
			if _, err := d.Open(context.Background(), h); err == nil {
				t.Error("Open of a missing tar succeeded")
			}
			// Committing metadata that still names it must fail, not commit a hole.
			if err := d.Commit(context.Background(), metaFor(h, "again"), nil); err == nil {
				t.Error("Commit of a sha neither new nor committed succeeded")
			}
		}},
		{"tar with other bytes than its name", func(t *testing.T, root string, h v1.Hash) {
			writeCorrupt(t, filepath.Join(root, committedDir, tarName(h)), "not the tar")
		}, func(t *testing.T, d *Dir, h v1.Hash) {
			rc, err := d.Open(context.Background(), h)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			// The cache hands out bytes; the reader verifies them (platform.md, Layer Restoration).
			got, _, err := v1.SHA256(rc)
			if err != nil {
				t.Fatal(err)
			}
			if got == h {
				t.Error("corruption not visible to a verifying reader")
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "cache")
			d, err := OpenDir(root, DirOptions{})
			if err != nil {
				t.Fatal(err)
			}
			l := newLayer(t, d.ScratchDir(), "one")
			h := diffID(t, l)
			if err := d.Commit(context.Background(), metaFor(h, "old"), map[v1.Hash]*layer.Layer{h: l}); err != nil {
				t.Fatal(err)
			}
			c.corrupt(t, root, h)
			c.check(t, d, h)
			d.Close()
		})
	}
}

// writeCorrupt replaces p (committed tars may be hard links: never write through them).
func writeCorrupt(t *testing.T, p, content string) {
	t.Helper()
	os.Remove(p)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
