package e2ekit

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/slipway/slipway/imagestore"
	"github.com/slipway/slipway/lifecycle"
)

func storedImage(t *testing.T, store, name string) v1.Image {
	t.Helper()
	s, err := imagestore.Open(store)
	if err != nil {
		t.Fatal(err)
	}
	img, err := s.Image(name)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// DigestOf is the digest of a stored image.
func DigestOf(t *testing.T, s *imagestore.Store, name string) string {
	t.Helper()
	img, err := s.Image(name)
	if err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// DiffIDs validates a stored image and returns its layers' diffIDs.
func DiffIDs(t *testing.T, s *imagestore.Store, name string) []v1.Hash {
	t.Helper()
	img, err := s.Image(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Fatalf("validate %s: %v", name, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return cf.RootFS.DiffIDs
}

// ImageLayers is the diffIDs of a stored image's layers, as strings.
func ImageLayers(t *testing.T, store, name string) []string {
	t.Helper()
	ls, err := storedImage(t, store, name).Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range ls {
		d, _ := l.DiffID()
		out = append(out, d.String())
	}
	return out
}

// DiffIDAt is the diffID of the i-th layer of a stored image.
func DiffIDAt(t *testing.T, store, name string, i int) string {
	t.Helper()
	s, err := imagestore.Open(store)
	if err != nil {
		t.Fatal(err)
	}
	ids := DiffIDs(t, s, name)
	if i >= len(ids) {
		t.Fatalf("%s has %d layers, no layer %d", name, len(ids), i)
	}
	return ids[i].String()
}

// LayerMetadata reads the io.buildpacks.lifecycle.metadata label of a stored image.
func LayerMetadata(t *testing.T, store, name string) lifecycle.LayersMetadata {
	t.Helper()
	md, err := lifecycle.ReadLayersMetadata(storedImage(t, store, name))
	if err != nil {
		t.Fatal(err)
	}
	return *md
}

// BuildpackLayerSHA is the diffID the label records for a buildpack layer ("" when absent).
func BuildpackLayerSHA(md lifecycle.LayersMetadata, bp, layer string) string {
	for _, b := range md.Buildpacks {
		if b.ID == bp {
			return b.Layers[layer].SHA
		}
	}
	return ""
}
