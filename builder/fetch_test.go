package builder

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var classicFiles = map[string]string{
	"bin/detect":  "#!/bin/sh\necho Test\n",
	"bin/compile": "#!/bin/sh\necho compiling\n",
	"bin/release": "#!/bin/sh\necho '--- {}'\n",
}

func classicTgz(t *testing.T, prefix string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range classicFiles {
		if err := tw.WriteHeader(&tar.Header{Name: prefix + name, Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func zipOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate}
		h.SetMode(0o755)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	zw.Close()
	return buf.Bytes()
}

// serve answers GET path with body, honouring If-None-Match; full is the count of 200s.
func serve(t *testing.T, files map[string][]byte) (string, *atomic.Int32) {
	t.Helper()
	var full atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		full.Add(1)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &full
}

func TestLayoutBuildpackURIArchives(t *testing.T) {
	url, full := serve(t, map[string][]byte{
		"/heroku-buildpack-test.tgz": classicTgz(t, "heroku-buildpack-test-abc123/"),
		"/cf-test.zip":               zipOf(t, classicFiles),
	})
	tests := []struct {
		name, path, wantID string
	}{
		{"tgz from a git host (one top-level dir)", "/heroku-buildpack-test.tgz", "classic/heroku-buildpack-test"},
		{"zip", "/cf-test.zip", "classic/cf-test"},
	}
	cache := t.TempDir()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := full.Load()
			for i := 0; i < 2; i++ {
				dest := t.TempDir()
				descs, err := LayoutBuildpackURI(context.Background(), url+tc.path, cache, dest)
				if err != nil {
					t.Fatal(err)
				}
				d := descs[0]
				if d.Buildpack.ID != tc.wantID || !strings.HasPrefix(d.Buildpack.Version, "sha256-") || d.Classic == nil {
					t.Fatalf("got %s (classic %v)", d.Ref(), d.Classic)
				}
				if fi, err := os.Stat(filepath.Join(d.Classic.Tree, "bin", "compile")); err != nil || fi.Mode().Perm()&0o111 == 0 {
					t.Fatalf("bin/compile not laid out executable: %v", err)
				}
			}
			// The second layout revalidated (304) instead of downloading again.
			if got := full.Load() - before; got != 1 {
				t.Errorf("downloaded %d times, want 1", got)
			}
		})
	}
}

func TestLayoutBuildpackURIErrors(t *testing.T) {
	evil := zipOf(t, map[string]string{"bin/compile": "#!/bin/sh\n", "../../escaped": "x"})
	url, _ := serve(t, map[string][]byte{"/evil.zip": evil})
	outside := t.TempDir()
	dest := filepath.Join(outside, "a", "b")
	_, err := LayoutBuildpackURI(context.Background(), url+"/evil.zip", t.TempDir(), dest)
	if err == nil || !strings.Contains(err.Error(), "escaped") {
		t.Fatalf("escaping zip entry: err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(outside, "escaped")); err == nil {
		t.Fatal("zip entry was written outside the directory")
	}

	_, err = LayoutBuildpackURI(context.Background(), url+"/missing.tgz", t.TempDir(), t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), "/missing.tgz") {
		t.Errorf("missing archive: err = %v", err)
	}
	// Nothing listens on port 1.
	_, err = LayoutBuildpackURI(context.Background(), "http://127.0.0.1:1/bp.tgz", t.TempDir(), t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "http://127.0.0.1:1/bp.tgz") || !strings.Contains(err.Error(), "check the URL") {
		t.Errorf("unreachable URL: err = %v", err)
	}
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// ClassicGitRepo makes a bare repository holding a classic buildpack with tag v1.2.0 and a
// later commit on main; it returns the bare repo's path and the tagged commit.
func classicGitRepo(t *testing.T) (string, string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	work := t.TempDir()
	git(t, work, "init", "-q", "-b", "main")
	for name, body := range classicFiles {
		p := filepath.Join(work, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(body), 0o755)
	}
	git(t, work, "add", ".")
	git(t, work, "commit", "-q", "-m", "one")
	git(t, work, "tag", "-a", "v1.2.0", "-m", "release")
	tagged := git(t, work, "rev-parse", "HEAD")
	os.WriteFile(filepath.Join(work, "README"), []byte("later\n"), 0o644)
	git(t, work, "add", ".")
	git(t, work, "commit", "-q", "-m", "two")
	bare := filepath.Join(t.TempDir(), "heroku-buildpack-gittest.git")
	git(t, work, "clone", "-q", "--bare", work, bare)
	return bare, tagged
}

func TestLayoutBuildpackURIGit(t *testing.T) {
	bare, tagged := classicGitRepo(t)
	cache := t.TempDir()
	descs, err := LayoutBuildpackURI(context.Background(), "file://"+bare+"#v1.2.0", cache, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if got := descs[0].Ref(); got != "classic/heroku-buildpack-gittest@1.2.0" {
		t.Errorf("tag: got %s", got)
	}
	if _, err := os.Stat(filepath.Join(cache, "git", tagged, "bin", "compile")); err != nil {
		t.Errorf("tagged commit not cached: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(cache, "git", tagged)); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("checkout root must be readable by the CNB user: %v %v", fi.Mode(), err)
	}
	if _, err := os.Stat(filepath.Join(cache, "git", tagged, "README")); err == nil {
		t.Errorf("tag checkout has the later commit's file")
	}
	// A commit already in the cache is not fetched again: the repository may even be gone.
	if err := os.RemoveAll(bare); err != nil {
		t.Fatal(err)
	}
	descs, err = LayoutBuildpackURI(context.Background(), "file://"+bare+"#"+tagged, cache, t.TempDir())
	if err != nil {
		t.Fatalf("cached commit: %v", err)
	}
	if !strings.HasPrefix(descs[0].Buildpack.Version, tagged[:7]) {
		t.Errorf("commit ref version = %s", descs[0].Buildpack.Version)
	}
	_, err = LayoutBuildpackURI(context.Background(), "file://"+bare+"#nope", cache, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), bare) {
		t.Errorf("missing repository: err = %v", err)
	}
}
