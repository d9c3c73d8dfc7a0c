package fscopy

import (
	"os"
	"path/filepath"
	"testing"
)

func TestTree(t *testing.T) {
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "copy")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(src, "bin"), 0o555))
	must(os.WriteFile(filepath.Join(src, "bin", "run"), []byte("#!/bin/sh\n"), 0o555))
	must(os.Symlink("/outside", filepath.Join(src, "link")))
	must(os.MkdirAll(filepath.Join(dst, "bin"), 0o755))
	must(os.WriteFile(filepath.Join(dst, "bin", "run"), []byte("old content that is longer"), 0o644))

	must(Tree(src, dst))

	b, err := os.ReadFile(filepath.Join(dst, "bin", "run"))
	must(err)
	if string(b) != "#!/bin/sh\n" {
		t.Errorf("bin/run = %q, want the source's bytes (replaced, not appended)", b)
	}
	fi, err := os.Stat(filepath.Join(dst, "bin", "run"))
	must(err)
	if fi.Mode().Perm() != 0o755 {
		t.Errorf("bin/run mode = %v, want 0755 (source bits, owner-writable)", fi.Mode().Perm())
	}
	l, err := os.Readlink(filepath.Join(dst, "link"))
	must(err)
	if l != "/outside" {
		t.Errorf("link -> %q, want /outside copied as a link", l)
	}
}
