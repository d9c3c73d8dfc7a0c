// Command imagesize prints where an image's bytes are: each layer's uncompressed size and
// the biggest paths in it, as a tree of the directories and files of at least -min bytes.
// The benchmarks use it to compare a slipway image with the Dockerfile image of the same
// app, layer by layer. It reads a docker-archive (`slipway save`, `podman save`) or an
// image in an OCI layout, streaming the layers.
//
// Usage: imagesize [-min 1MB] [-depth 9] (-archive FILE [-tag NAME] | -layout DIR -ref NAME)
package main

import (
	"archive/tar"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func main() {
	archive := flag.String("archive", "", "docker-archive to read")
	tag := flag.String("tag", "", "image in the archive (default: its only one)")
	dir := flag.String("layout", "", "OCI layout to read")
	ref := flag.String("ref", "", "image in the layout (org.opencontainers.image.ref.name)")
	minSize := flag.Int64("min", 1<<20, "list paths of at least this many bytes")
	depth := flag.Int("depth", 9, "list paths at most this many levels deep")
	flag.Parse()
	img, err := open(*archive, *tag, *dir, *ref)
	if err == nil {
		err = report(os.Stdout, img, *minSize, *depth)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "imagesize:", err)
		os.Exit(1)
	}
}

func open(archive, tag, dir, ref string) (v1.Image, error) {
	switch {
	case archive != "" && dir == "":
		var t *name.Tag
		if tag != "" {
			nt, err := name.NewTag(tag)
			if err != nil {
				return nil, fmt.Errorf("-tag %q: %w", tag, err)
			}
			t = &nt
		}
		img, err := tarball.ImageFromPath(archive, t)
		if err != nil {
			return nil, fmt.Errorf("read docker-archive %s: %w", archive, err)
		}
		return img, nil
	case dir != "" && archive == "" && ref != "":
		p, err := layout.FromPath(dir)
		if err != nil {
			return nil, fmt.Errorf("open OCI layout %s: %w", dir, err)
		}
		idx, err := p.ImageIndex()
		if err != nil {
			return nil, fmt.Errorf("read %s/index.json: %w", dir, err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, fmt.Errorf("read %s/index.json: %w", dir, err)
		}
		var names []string
		for _, d := range im.Manifests {
			n := d.Annotations["org.opencontainers.image.ref.name"]
			if n == ref {
				return p.Image(d.Digest)
			}
			names = append(names, n)
		}
		return nil, fmt.Errorf("OCI layout %s has no image %q (it has %s)", dir, ref, strings.Join(names, ", "))
	}
	return nil, errors.New("give -archive FILE, or -layout DIR and -ref NAME")
}

// node is a directory or file of one layer with the bytes of the regular files under it.
type node struct {
	size     int64
	children map[string]*node
}

func (n *node) add(p string, size int64) {
	n.size += size
	cur := n
	for _, part := range strings.Split(strings.Trim(path.Clean("/"+p), "/"), "/") {
		if part == "" {
			continue
		}
		if cur.children == nil {
			cur.children = map[string]*node{}
		}
		c := cur.children[part]
		if c == nil {
			c = &node{}
			cur.children[part] = c
		}
		c.size += size
		cur = c
	}
}

func report(w io.Writer, img v1.Image, minSize int64, depth int) error {
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("list layers: %w", err)
	}
	var total int64
	for i, l := range layers {
		root, err := walk(l)
		if err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
		total += root.size
		id, _ := l.DiffID()
		fmt.Fprintf(w, "layer %d  %s  %s\n", i, mb(root.size), id.Hex[:12])
		print(w, root, "", 1, minSize, depth)
	}
	fmt.Fprintf(w, "total  %s in %d layers (regular files, uncompressed)\n", mb(total), len(layers))
	return nil
}

// print lists n's children of at least minSize, biggest first, indented by level.
func print(w io.Writer, n *node, prefix string, level int, minSize int64, depth int) {
	names := make([]string, 0, len(n.children))
	for k, c := range n.children {
		if c.size >= minSize {
			names = append(names, k)
		}
	}
	sort.Slice(names, func(i, j int) bool { return n.children[names[i]].size > n.children[names[j]].size })
	for _, k := range names {
		c := n.children[k]
		// A directory holding one path is printed as one line down to its end.
		p := prefix + "/" + k
		for level < depth && len(c.children) == 1 {
			for k2, c2 := range c.children {
				p, c = p+"/"+k2, c2
			}
			level++
		}
		fmt.Fprintf(w, "  %s%9s  %s\n", strings.Repeat("  ", level-1), mb(c.size), p)
		if level < depth {
			print(w, c, p, level+1, minSize, depth)
		}
	}
}

func walk(l v1.Layer) (*node, error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	root := &node{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return root, nil
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag == tar.TypeReg {
			root.add(h.Name, h.Size)
		}
	}
}

func mb(n int64) string { return fmt.Sprintf("%.2fM", float64(n)/1e6) }
