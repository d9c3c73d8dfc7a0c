package testkit

import (
	"os"
	"path/filepath"
	"testing"
)

// NoErr fails the test when err is not nil.
func NoErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// WriteFiles writes files (path relative to dir → content) under dir, creating directories.
// A path ending in an executable name under bin/ gets mode 0755, everything else 0644.
func WriteFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		NoErr(t, os.MkdirAll(filepath.Dir(p), 0o755))
		mode := os.FileMode(0o644)
		if filepath.Base(filepath.Dir(p)) == "bin" {
			mode = 0o755
		}
		NoErr(t, os.WriteFile(p, []byte(content), mode))
	}
}

// ReadFile returns the content of path, failing the test when it cannot be read.
func ReadFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	NoErr(t, err)
	return string(b)
}
