package e2ekit

import (
	"archive/tar"
	"bufio"
	"bytes"
	"io"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// StoredImage is the image name in store.
func StoredImage(t *testing.T, store, name string) v1.Image { return storedImage(t, store, name) }

// WalkImage calls fn for every entry of every layer of img, in layer order, with the
// entry's content as r; layers are streamed, never held in memory.
func WalkImage(t *testing.T, img v1.Image, fn func(h *tar.Header, r io.Reader)) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				rc.Close()
				t.Fatalf("read layer %d: %v", i, err)
			}
			fn(h, tr)
		}
		rc.Close()
	}
}

// ImageHolds is the first of needles found in img — in its config (env, labels, history)
// or in a path or the content of a file of any layer — or "" when none is there. Tests
// use it to prove a secret never reached an image.
func ImageHolds(t *testing.T, img v1.Image, needles ...string) string {
	t.Helper()
	cfg, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if found := firstIn(bytes.NewReader(cfg), needles); found != "" {
		return found
	}
	var found string
	WalkImage(t, img, func(h *tar.Header, r io.Reader) {
		if found == "" {
			found = firstIn(io.MultiReader(strings.NewReader(h.Name+"\n"+h.Linkname+"\n"), r), needles)
		}
	})
	return found
}

// firstIn reads r once, in pieces that overlap by the longest needle, and returns the
// first needle it finds.
func firstIn(r io.Reader, needles []string) string {
	overlap := 0
	for _, n := range needles {
		overlap = max(overlap, len(n))
	}
	br := bufio.NewReaderSize(r, 1<<20)
	chunk := make([]byte, 1<<20)
	var window []byte
	for {
		n, err := br.Read(chunk)
		window = append(window, chunk[:n]...)
		for _, needle := range needles {
			if bytes.Contains(window, []byte(needle)) {
				return needle
			}
		}
		if len(window) > overlap {
			window = append(window[:0], window[len(window)-overlap:]...)
		}
		if err != nil {
			return ""
		}
	}
}
