package e2ekit

import (
	"archive/tar"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Testdata is a path under e2e/testdata.
func Testdata(elem ...string) string {
	return filepath.Join(append([]string{RepoRoot, "e2e", "testdata"}, elem...)...)
}

// App is a fixture app under e2e/testdata/apps.
func App(name string) string { return Testdata("apps", name) }

// CopyApp copies a fixture app to a temp dir the test may change.
func CopyApp(t *testing.T, name string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), name)
	if out, err := exec.Command("cp", "-a", App(name), dst).CombinedOutput(); err != nil {
		t.Fatalf("copy app: %v\n%s", err, out)
	}
	return dst
}

// WriteFile writes content at path, making its directories.
func WriteFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Untar unpacks the directories and regular files of an uncompressed tar into dir.
func Untar(t *testing.T, archive, dir string) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("%s is not an uncompressed tar: %v", archive, err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(p, dir) {
			t.Fatalf("entry %s escapes", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			w, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			_, err = io.Copy(w, tr)
			if cerr := w.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
}

// MustContain fails the test for each want out lacks.
func MustContain(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

// Seen parses the "seen l-XYZ toml=.. meta=.. content=.." lines the layers fixture
// buildpack prints.
func Seen(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		i := strings.Index(line, "seen l-")
		if i < 0 {
			continue
		}
		f := strings.Fields(line[i:])
		m[f[1]] = strings.Join(f[2:], " ")
	}
	return m
}
