package cache

import (
	"context"
	"net/http"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/slipway/slipway/internal/testkit"
	"github.com/slipway/slipway/layer"
	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/registry"
)

func newRegistry(t *testing.T) (*testkit.Registry, string) {
	r := testkit.NewRegistry(t)
	return r, r.Host
}

func readAll(t *testing.T, c Cache, h v1.Hash) {
	t.Helper()
	rc, err := c.Open(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, _, err := v1.SHA256(rc)
	if err != nil {
		t.Fatal(err)
	}
	if got != h {
		t.Fatalf("cached layer %s reads back as %s", h, got)
	}
}

// docs/spec-notes.md, Caches, --cache-image: a missing image is an empty cache; a commit round-trips
// metadata and layers; a second commit uploads only the new layer.
func TestImageCacheRoundTrip(t *testing.T) {
	reg, host := newRegistry(t)
	ctx := context.Background()
	ref := host + "/app-cache:latest"
	c, err := OpenImage(ctx, ref, registry.Options{}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if m, err := c.Metadata(ctx); err != nil || len(m.Buildpacks) != 0 {
		t.Fatalf("missing cache image: metadata %+v, %v; want empty", m, err)
	}
	l1 := newLayer(t, c.ScratchDir(), "one")
	h1 := diffID(t, l1)
	if err := c.Commit(ctx, metaFor(h1, "first"), map[v1.Hash]*layer.Layer{h1: l1}); err != nil {
		t.Fatal(err)
	}

	c, err = OpenImage(ctx, ref, registry.Options{}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := m.Layer("test/bp", "l"); !ok || l.SHA != h1.String() || l.Data["marker"] != "first" {
		t.Fatalf("metadata after round trip: %+v", m)
	}
	readAll(t, c, h1)

	// Keep l1, add l2: only l2 (and the config) are uploaded.
	l2 := newLayer(t, c.ScratchDir(), "two")
	h2 := diffID(t, l2)
	meta := metaFor(h1, "second")
	meta.Buildpacks[0].Layers["m"] = LayerMetadata{SHA: h2.String(), Cache: true}
	reg.Reset()
	if err := c.Commit(ctx, meta, map[v1.Hash]*layer.Layer{h2: l2}); err != nil {
		t.Fatal(err)
	}
	uploads := reg.Count("POST", "uploads")
	if uploads != 2 {
		t.Errorf("%d blob uploads for one new layer, want 2 (layer + config)", uploads)
	}
	img, err := registry.Image(ctx, ref, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Fatalf("cache image invalid: %v", err)
	}
	c, err = OpenImage(ctx, ref, registry.Options{}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, c, h1)
	readAll(t, c, h2)
}

// A cache image whose metadata label does not parse is reported, so the build can warn and
// ignore it (platform.md, Layer Restoration).
func TestImageCacheCorruptLabel(t *testing.T) {
	_, host := newRegistry(t)
	ctx := context.Background()
	ref := host + "/bad-cache:latest"
	img, _ := random.Image(256, 1)
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.Config.Labels = map[string]string{platform.LabelCacheMetadata: "{broken"}
	img, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := registry.Write(ctx, ref, img, registry.Options{}); err != nil {
		t.Fatal(err)
	}
	c, err := OpenImage(ctx, ref, registry.Options{}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Metadata(ctx); err == nil || !strings.Contains(err.Error(), ref) {
		t.Errorf("corrupt label: error %v, want one naming %s", err, ref)
	}
	if _, err := c.Open(ctx, v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}); err == nil {
		t.Error("Open of a layer the cache image lacks succeeded")
	}
}

// --cache-image: only "not found" means an empty cache; a registry that refuses or fails must
// fail the build with an error naming the cache image, never silently drop the cache.
func TestImageCacheRegistryErrors(t *testing.T) {
	reg, host := newRegistry(t)
	ctx := context.Background()
	ref := host + "/app-cache:latest"
	if _, err := registry.Write(ctx, ref, randomCacheImage(t), registry.Options{}); err != nil {
		t.Fatal(err)
	}
	for _, code := range []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusInternalServerError} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			reg.Fail(func(r *http.Request) int {
				if testkit.Kind(r) == "manifests" {
					return code
				}
				return 0
			})
			defer reg.Fail(nil)
			_, err := OpenImage(ctx, ref, registry.Options{}, t.TempDir())
			if err == nil {
				t.Fatalf("registry answering %d: cache opened as if empty", code)
			}
			if !strings.Contains(err.Error(), ref) || !strings.Contains(err.Error(), "--cache-image") {
				t.Errorf("error %q does not name the cache image and flag", err)
			}
		})
	}
	t.Run("not found is an empty cache", func(t *testing.T) {
		c, err := OpenImage(ctx, host+"/no-such-cache:latest", registry.Options{}, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if m, err := c.Metadata(ctx); err != nil || len(m.Buildpacks) != 0 {
			t.Errorf("metadata %+v, %v; want empty", m, err)
		}
	})
}

func randomCacheImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	return img
}
