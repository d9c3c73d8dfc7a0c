package layer_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/slipway/slipway/layer"
)

// docs/architecture.md, "Never do work twice": the fingerprint changes exactly when the layer could.
func TestFingerprintDir(t *testing.T) {
	ctx := context.Background()
	opts := layer.Options{UID: 1000, GID: 1000}
	cases := []struct {
		name    string
		change  func(t *testing.T, dir string)
		changed bool
	}{
		{"nothing", func(*testing.T, string) {}, false},
		{"content rewritten same size", func(t *testing.T, dir string) {
			// Same size and a forced equal mtime: ctime still moves.
			p := filepath.Join(dir, "a")
			fi, _ := os.Stat(p)
			write(t, p, "B", 0o644)
			os.Chtimes(p, fi.ModTime(), fi.ModTime())
		}, true},
		{"file added", func(t *testing.T, dir string) { write(t, filepath.Join(dir, "sub", "new"), "x", 0o644) }, true},
		{"file removed", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "a")) }, true},
		{"mode changed", func(t *testing.T, dir string) { os.Chmod(filepath.Join(dir, "a"), 0o755) }, true},
		{"symlink retargeted", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "link"))
			os.Symlink("b", filepath.Join(dir, "link"))
		}, true},
		{"mtime touched", func(t *testing.T, dir string) {
			os.Chtimes(filepath.Join(dir, "a"), time.Now(), time.Now().Add(time.Hour))
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, filepath.Join(dir, "a"), "A", 0o644)
			write(t, filepath.Join(dir, "sub", "b"), "bb", 0o644)
			if err := os.Symlink("a", filepath.Join(dir, "link")); err != nil {
				t.Fatal(err)
			}
			before, err := layer.FingerprintDir(ctx, dir, "/layers/bp/l", opts)
			if err != nil {
				t.Fatal(err)
			}
			tc.change(t, dir)
			after, err := layer.FingerprintDir(ctx, dir, "/layers/bp/l", opts)
			if err != nil {
				t.Fatal(err)
			}
			if (before != after) != tc.changed {
				t.Fatalf("fingerprint changed = %v, want %v", before != after, tc.changed)
			}
		})
	}
}

// The options that shape the tar are part of the fingerprint.
func TestFingerprintOptions(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a"), "A", 0o644)
	base, _ := layer.FingerprintDir(ctx, dir, "/x", layer.Options{})
	for name, fp := range map[string]func() (string, error){
		"image path": func() (string, error) { return layer.FingerprintDir(ctx, dir, "/y", layer.Options{}) },
		"uid":        func() (string, error) { return layer.FingerprintDir(ctx, dir, "/x", layer.Options{UID: 1}) },
		"mtime": func() (string, error) {
			return layer.FingerprintDir(ctx, dir, "/x", layer.Options{ModTime: time.Unix(5, 0)})
		},
	} {
		got, err := fp()
		if err != nil {
			t.Fatal(err)
		}
		if got == base {
			t.Errorf("%s: fingerprint did not change", name)
		}
	}
	files, _ := layer.FingerprintFiles(ctx, dir, "/x", []string{"a"}, layer.Options{})
	files2, _ := layer.FingerprintFiles(ctx, dir, "/x", []string{"a"}, layer.Options{})
	if files != files2 || files == "" {
		t.Errorf("FingerprintFiles not stable: %q %q", files, files2)
	}
}

// Options.Uncompressed: the blob is the tar, so digest == diffID (docs/spec-notes.md, Caches cache tars).
func TestUncompressedLayer(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a"), "A", 0o644)
	l, err := layer.FromDir(context.Background(), dir, "/x", layer.Options{ScratchDir: t.TempDir(), Uncompressed: true})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := l.Digest()
	id, _ := l.DiffID()
	if d != id {
		t.Fatalf("digest %s != diffID %s", d, id)
	}
	if got := readEntries(t, l); len(got) != 2 {
		t.Fatalf("entries %+v", got)
	}
}
