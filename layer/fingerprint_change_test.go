package layer

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FingerprintDirContents (used for <layers>/config) must follow the file bytes, not the
// inode or times: the same bytes rewritten give the same fingerprint, new bytes of the same
// size and mtime give a new one.
func TestFingerprintDirContentsFollowsBytes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := filepath.Join(dir, "metadata.toml")
	when := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	write := func(body string) string {
		t.Helper()
		os.Remove(p) // a new inode every time
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, when, when)
		fp, err := FingerprintDirContents(ctx, dir, "/layers/config", Options{})
		if err != nil {
			t.Fatal(err)
		}
		return fp
	}
	a := write("aaa")
	if b := write("bbb"); b == a {
		t.Error("new bytes of the same size and mtime: fingerprint unchanged")
	}
	when = when.Add(time.Hour)
	if c := write("aaa"); c != a {
		t.Error("the same bytes rewritten (new inode, new mtime): fingerprint changed")
	}
}

// FingerprintFiles (app slices) must change when a listed file changes and ignore files that
// are not listed.
func TestFingerprintFilesFollowsListedFiles(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	for name, body := range map[string]string{"a.txt": "a", "sub/b.txt": "b", "other.txt": "o"} {
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fp := func() string {
		t.Helper()
		s, err := FingerprintFiles(ctx, root, "/workspace", []string{"a.txt", "sub/b.txt"}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := fp()
	if again := fp(); again != before {
		t.Fatal("fingerprint not stable")
	}
	// An unlisted file changes (its directory's mtime moves too, as root's does for any file).
	if err := os.WriteFile(filepath.Join(root, "other.txt"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := fp(); got != before {
		t.Error("an unlisted file changed the fingerprint")
	}
	// Unlisted files removed and put back (a buildpack deleting sources, the next workspace
	// sync copying them again): the root's mtime moves, the tar would not change.
	if err := os.Remove(filepath.Join(root, "other.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "main.go"), []byte("package main"), 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(root, later, later); err != nil {
		t.Fatal(err)
	}
	if got := fp(); got != before {
		t.Error("unlisted files removed and added (the app dir's mtime moved) changed the fingerprint")
	}
	if err := os.WriteFile(filepath.Join(root, "sub", "b.txt"), []byte("bb"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := fp(); got == before {
		t.Error("a listed file changed but the fingerprint did not")
	}
}
