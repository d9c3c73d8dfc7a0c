package registry

import (
	"context"
	"net/http"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/slipway/slipway/internal/testkit"
)

func newFaultyRegistry(t *testing.T) (*testkit.Registry, string) {
	r := testkit.NewRegistry(t)
	return r, r.Host
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
			f.Fail(c.fail)
			img, _ := random.Image(512, 3)
			_, err = Publish(ctx, names, img, Options{}, nil)
			if err == nil {
				t.Fatal("publish succeeded through the injected failure")
			}
			if !strings.Contains(err.Error(), host) || !strings.Contains(err.Error(), "no tag was changed") {
				t.Errorf("error %q: want the registry %s named and 'no tag was changed'", err, host)
			}
			f.Fail(nil)
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
	if n := len(f.Requests("PATCH /v2/b/")); n != 0 {
		t.Errorf("%d blob uploads to the second repository; want its blobs mounted or found", n)
	}
	// The first tag PUT comes after the last by-digest manifest PUT.
	lastDigestPut, firstTagPut := -1, -1
	for i, s := range f.Requests("PUT ") {
		switch {
		case strings.Contains(s.String(), "/manifests/sha256:"):
			lastDigestPut = i
		case strings.Contains(s.String(), "/manifests/") && firstTagPut < 0:
			firstTagPut = i
		}
	}
	if lastDigestPut < 0 || firstTagPut < lastDigestPut {
		t.Errorf("tag PUT %d before digest PUT %d: %v", firstTagPut, lastDigestPut, f.Requests("PUT "))
	}
}
