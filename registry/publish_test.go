package registry

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

// faultyRegistry is an in-process registry that answers status instead of serving the
// requests fail picks, and records the requests it saw.
type faultyRegistry struct {
	inner http.Handler
	mu    sync.Mutex
	fail  func(*http.Request) int
	seen  []string // "METHOD path?query"
}

func (f *faultyRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.seen = append(f.seen, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
	fail := f.fail
	f.mu.Unlock()
	if fail != nil {
		if code := fail(r); code != 0 {
			http.Error(w, http.StatusText(code), code)
			return
		}
	}
	f.inner.ServeHTTP(w, r)
}

func (f *faultyRegistry) requests(prefix string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, s := range f.seen {
		if strings.HasPrefix(s, prefix) {
			out = append(out, s)
		}
	}
	return out
}

func newFaultyRegistry(t *testing.T) (*faultyRegistry, string) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("DOCKER_CONFIG", filepath.Join(dir, "docker"))
	t.Setenv("REGISTRY_AUTH_FILE", filepath.Join(dir, "auth.json"))
	f := &faultyRegistry{inner: ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, strings.TrimPrefix(srv.URL, "http://")
}

func digestAt(t *testing.T, ref string) v1.Hash {
	t.Helper()
	img, err := Image(context.Background(), ref, Options{})
	if err != nil {
		t.Fatalf("read back %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Issue 3: publishing with -t tags is all or nothing as far as the registry allows: a
// failure anywhere before tagging leaves every previously published tag where it was.
func TestPublishMovesNoTagOnFailure(t *testing.T) {
	cases := []struct {
		name string
		fail func(*http.Request) int
	}{
		{"blob upload refused", func(r *http.Request) int {
			if strings.HasPrefix(r.URL.Path, "/v2/a/blobs/uploads") {
				return http.StatusUnauthorized
			}
			return 0
		}},
		{"manifest by digest refused in the second repository", func(r *http.Request) int {
			if r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/v2/b/manifests/sha256:") {
				return http.StatusForbidden
			}
			return 0
		}},
		{"second repository missing", func(r *http.Request) int {
			if strings.HasPrefix(r.URL.Path, "/v2/b/") && r.Method != http.MethodGet && r.Method != http.MethodHead {
				return http.StatusNotFound
			}
			return 0
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, host := newFaultyRegistry(t)
			ctx := context.Background()
			names := []string{host + "/a:latest", host + "/a:v1", host + "/b:v1"}
			old, _ := random.Image(512, 2)
			oldD, err := Publish(ctx, names, old, Options{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			f.fail = c.fail
			img, _ := random.Image(512, 3)
			_, err = Publish(ctx, names, img, Options{}, nil)
			if err == nil {
				t.Fatal("publish succeeded through the injected failure")
			}
			if !strings.Contains(err.Error(), host) || !strings.Contains(err.Error(), "no tag was changed") {
				t.Errorf("error %q: want the registry %s named and 'no tag was changed'", err, host)
			}
			f.fail = nil
			for _, n := range names {
				if d := digestAt(t, n); d != oldD {
					t.Errorf("%s moved to %s; want it still at %s", n, d, oldD)
				}
			}
		})
	}
}

// Every name resolves to the image; the blobs go up once per registry and the tags are
// manifest PUTs made only after every by-digest push.
func TestPublishUploadsOnceThenTags(t *testing.T) {
	f, host := newFaultyRegistry(t)
	img, _ := random.Image(1024, 3)
	want, _ := img.Digest()
	names := []string{host + "/a:latest", host + "/a:v1", host + "/b:v1"}
	d, err := Publish(context.Background(), names, img, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d != want {
		t.Fatalf("digest %s, want %s", d, want)
	}
	for _, n := range names {
		if got := digestAt(t, n); got != want {
			t.Errorf("%s at %s, want %s", n, got, want)
		}
	}
	if n := len(f.requests("PATCH /v2/b/")); n != 0 {
		t.Errorf("%d blob uploads to the second repository; want its blobs mounted or found", n)
	}
	// The first tag PUT comes after the last by-digest manifest PUT.
	lastDigestPut, firstTagPut := -1, -1
	for i, s := range f.requests("PUT ") {
		switch {
		case strings.Contains(s, "/manifests/sha256:"):
			lastDigestPut = i
		case strings.Contains(s, "/manifests/") && firstTagPut < 0:
			firstTagPut = i
		}
	}
	if lastDigestPut < 0 || firstTagPut < lastDigestPut {
		t.Errorf("tag PUT %d before digest PUT %d: %v", firstTagPut, lastDigestPut, f.requests("PUT "))
	}
}
