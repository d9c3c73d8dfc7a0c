package publish

import (
	"archive/tar"
	"bytes"
	"io"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// A `docker load` answers 200 and reports a failure inside its JSON stream.
func TestLoadError(t *testing.T) {
	for _, tc := range []struct{ name, resp, want string }{
		{"loaded", `{"stream":"Loaded image: localhost/app:1\n"}`, ""},
		{"empty", "", ""},
		{"not JSON", "Loaded image: x", ""},
		{"error detail", `{"stream":"x"}` + "\n" + `{"errorDetail":{"message":"layer sha256:ab: unexpected EOF"},"error":"unexpected EOF"}`, "layer sha256:ab: unexpected EOF"},
		{"error only", `{"error":"no space left on device"}`, "no space left on device"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := loadError(tc.resp)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("loadError(%q) = %q, want %q", tc.resp, got, tc.want)
			}
		})
	}
}

// The load archive for a daemon holding the bottom layers: those are empty entries under
// their usual names, the others whole, and manifest.json and the config are unchanged, so
// the daemon rebuilds the same image from the layers it has.
func TestHeldLayersArchive(t *testing.T) {
	img, err := random.Image(2048, 3)
	if err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag("localhost/app:1")
	archive := func(skip int) map[string]int64 {
		var buf bytes.Buffer
		if err := tarball.Write(tag, heldLayers{Image: img, skip: skip}, &buf); err != nil {
			t.Fatal(err)
		}
		sizes := map[string]int64{}
		tr := tar.NewReader(&buf)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				return sizes
			}
			if err != nil {
				t.Fatal(err)
			}
			sizes[h.Name] = h.Size
		}
	}
	full, held := archive(0), archive(2)
	ls, _ := img.Layers()
	for i, l := range ls {
		d, _ := l.Digest()
		n, _ := l.Size()
		f := d.Hex + ".tar.gz"
		want := n
		if i < 2 {
			want = 0
		}
		if full[f] != n || held[f] != want {
			t.Errorf("layer %d (%s): %d bytes in the full archive, %d with 2 held; want %d and %d", i, f, full[f], held[f], n, want)
		}
	}
	if full["manifest.json"] != held["manifest.json"] || len(full) != len(held) {
		t.Errorf("the archives list different files: %v vs %v", full, held)
	}
	cf, _ := img.ConfigFile()
	if got := commonBottom([][]v1.Hash{cf.RootFS.DiffIDs[:2], {cf.RootFS.DiffIDs[2]}}, cf.RootFS.DiffIDs); got != 2 {
		t.Errorf("held prefix %d, want 2 (only a run from the bottom counts)", got)
	}
}
