package layer_test

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/slipway/slipway/layer"
)

type entry struct {
	name, link string
	typ        byte
	uid, gid   int
	mode       int64
	body       string
}

func readEntries(t *testing.T, l *layer.Layer) []entry {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var out []entry
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		// platform.md, Build Reproducibility: fixed mtime, blank names.
		if !h.ModTime.Equal(layer.Epoch()) {
			t.Errorf("%s: mtime %v, want %v", h.Name, h.ModTime, layer.Epoch())
		}
		if h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: uname/gname %q/%q, want blank", h.Name, h.Uname, h.Gname)
		}
		b, _ := io.ReadAll(tr)
		out = append(out, entry{h.Name, h.Linkname, h.Typeflag, h.Uid, h.Gid, h.Mode, string(b)})
	}
}

func write(t *testing.T, p, body string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

// fixtureTree builds a tree with files, an executable, nested dirs, symlinks (one pointing out
// of the tree), a hardlink and a socket.
func fixtureTree(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "node")
	write(t, filepath.Join(dir, "bin", "node"), "#!/bin/sh\n", 0o755)
	write(t, filepath.Join(dir, "lib", "a.txt"), "a", 0o644)
	write(t, filepath.Join(dir, "lib.txt"), "lib", 0o600)
	if err := os.Symlink("../lib/a.txt", filepath.Join(dir, "bin", "rel")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "outside")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(dir, "lib", "a.txt"), filepath.Join(dir, "lib", "b.txt")); err != nil {
		t.Fatal(err)
	}
	// Unix socket paths are limited to ~108 bytes; skip the socket case if TempDir is deeper.
	if sock := filepath.Join(dir, "s.sock"); len(sock) < 100 {
		ln, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
	}
	return dir
}

// docs/spec-notes.md, Image layer order; platform.md, Build Reproducibility: entries rooted at the image path, parents synthesized, lexical
// order, symlinks kept, hardlinks kept, sockets skipped, owner from options.
func TestFromDirEntries(t *testing.T) {
	dir := fixtureTree(t)
	l, err := layer.FromDir(context.Background(), dir, "/layers/bp/node",
		layer.Options{ScratchDir: t.TempDir(), UID: 1000, GID: 1001, ParentUID: 7, ParentGID: 8})
	if err != nil {
		t.Fatal(err)
	}
	got := readEntries(t, l)
	want := []entry{
		{name: "layers", typ: tar.TypeDir, uid: 7, gid: 8, mode: 0o755},
		{name: "layers/bp", typ: tar.TypeDir, uid: 7, gid: 8, mode: 0o755},
		{name: "layers/bp/node", typ: tar.TypeDir, uid: 1000, gid: 1001, mode: 0o755},
		{name: "layers/bp/node/bin", typ: tar.TypeDir, uid: 1000, gid: 1001, mode: 0o755},
		{name: "layers/bp/node/bin/node", typ: tar.TypeReg, uid: 1000, gid: 1001, mode: 0o755, body: "#!/bin/sh\n"},
		{name: "layers/bp/node/bin/rel", link: "../lib/a.txt", typ: tar.TypeSymlink, uid: 1000, gid: 1001, mode: 0o777},
		{name: "layers/bp/node/lib", typ: tar.TypeDir, uid: 1000, gid: 1001, mode: 0o755},
		{name: "layers/bp/node/lib/a.txt", typ: tar.TypeReg, uid: 1000, gid: 1001, mode: 0o644, body: "a"},
		{name: "layers/bp/node/lib/b.txt", link: "layers/bp/node/lib/a.txt", typ: tar.TypeLink, uid: 1000, gid: 1001, mode: 0o644},
		{name: "layers/bp/node/lib.txt", typ: tar.TypeReg, uid: 1000, gid: 1001, mode: 0o600, body: "lib"},
		{name: "layers/bp/node/outside", link: "/etc/passwd", typ: tar.TypeSymlink, uid: 1000, gid: 1001, mode: 0o777},
	}
	if !slices.Equal(got, want) {
		t.Errorf("entries:\n got %+v\nwant %+v", got, want)
	}
}

// platform.md, io.buildpacks.lifecycle.metadata (JSON); docs/spec-notes.md, Layer reuse: diffID is the sha256 of the uncompressed tar, digest and size those
// of the compressed blob; the layer validates.
func TestFromDirHashes(t *testing.T) {
	for _, tc := range []struct {
		name string
		mt   types.MediaType
		want types.MediaType
	}{
		{"default is OCI", "", types.OCILayer},
		{"docker", types.DockerLayer, types.DockerLayer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := layer.FromDir(context.Background(), fixtureTree(t), "/workspace",
				layer.Options{ScratchDir: t.TempDir(), MediaType: tc.mt})
			if err != nil {
				t.Fatal(err)
			}
			if mt, _ := l.MediaType(); mt != tc.want {
				t.Errorf("media type %s, want %s", mt, tc.want)
			}
			diffID, _ := l.DiffID()
			if got := sumReader(t, l.Uncompressed); got != diffID.Hex {
				t.Errorf("diffID %s, sha256 of uncompressed %s", diffID.Hex, got)
			}
			digest, _ := l.Digest()
			if got := sumReader(t, l.Compressed); got != digest.Hex {
				t.Errorf("digest %s, sha256 of compressed %s", digest.Hex, got)
			}
			fi, err := os.Stat(l.Path())
			if err != nil {
				t.Fatal(err)
			}
			if size, _ := l.Size(); size != fi.Size() {
				t.Errorf("size %d, file has %d", size, fi.Size())
			}
			if err := validate.Layer(l); err != nil {
				t.Errorf("validate.Layer: %v", err)
			}
		})
	}
}

func sumReader(t *testing.T, open func() (io.ReadCloser, error)) string {
	t.Helper()
	rc, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// platform.md, Build Reproducibility: the same tree gives the same digest whatever the host mtimes; a
// SOURCE_DATE_EPOCH time changes it.
func TestFromDirReproducible(t *testing.T) {
	dir := fixtureTree(t)
	opts := layer.Options{ScratchDir: t.TempDir(), UID: 1000, GID: 1000}
	a, err := layer.FromDir(context.Background(), dir, "/layers/bp/node", opts)
	if err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	for _, p := range []string{dir, filepath.Join(dir, "lib", "a.txt"), filepath.Join(dir, "bin")} {
		if err := os.Chtimes(p, later, later); err != nil {
			t.Fatal(err)
		}
	}
	b, err := layer.FromDir(context.Background(), dir, "/layers/bp/node", opts)
	if err != nil {
		t.Fatal(err)
	}
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Errorf("digests differ after touching files: %s vs %s", da, db)
	}
	opts.ModTime = time.Unix(1700000000, 0)
	c, err := layer.FromDir(context.Background(), dir, "/layers/bp/node", opts)
	if err != nil {
		t.Fatal(err)
	}
	if dc, _ := c.Digest(); dc == da {
		t.Errorf("ModTime did not change the digest")
	}
}

// buildpack.md, Slice Layers: a slice archives only the listed paths plus their ancestors, sorted.
func TestFromFiles(t *testing.T) {
	dir := fixtureTree(t)
	l, err := layer.FromFiles(context.Background(), dir, "/workspace",
		[]string{"lib/a.txt", "bin/rel"}, layer.Options{ScratchDir: t.TempDir(), UID: 5, GID: 6})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range readEntries(t, l) {
		names = append(names, e.name)
		if e.uid != 5 || e.gid != 6 {
			t.Errorf("%s owned by %d:%d, want 5:6", e.name, e.uid, e.gid)
		}
	}
	want := []string{"workspace", "workspace/bin", "workspace/bin/rel", "workspace/lib", "workspace/lib/a.txt"}
	if !slices.Equal(names, want) {
		t.Errorf("names %v, want %v", names, want)
	}
	if _, err := layer.FromFiles(context.Background(), dir, "/workspace", []string{"../x"}, layer.Options{ScratchDir: t.TempDir()}); err == nil {
		t.Error("a path escaping the root was accepted")
	}
}

// docs/spec-notes.md, Image layer order items 6 and 8, platform.md, Build Reproducibility: launcher file and process symlinks, root-owned 0755.
func TestFromEntries(t *testing.T) {
	launcher := filepath.Join(t.TempDir(), "launcher")
	write(t, launcher, "ELF", 0o700)
	root := layer.Owner{UID: 0, GID: 0, Mode: 0o755}
	l, err := layer.FromEntries(context.Background(), []layer.Entry{
		{Type: layer.EntryFile, Path: "/cnb/lifecycle/launcher", HostPath: launcher, Owner: root},
		{Type: layer.EntrySymlink, Path: "/cnb/process/web", Target: "/cnb/lifecycle/launcher", Owner: root},
	}, layer.Options{ScratchDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	want := []entry{
		{name: "cnb", typ: tar.TypeDir, mode: 0o755},
		{name: "cnb/lifecycle", typ: tar.TypeDir, mode: 0o755},
		{name: "cnb/lifecycle/launcher", typ: tar.TypeReg, mode: 0o755, body: "ELF"},
		{name: "cnb/process", typ: tar.TypeDir, mode: 0o755},
		{name: "cnb/process/web", link: "/cnb/lifecycle/launcher", typ: tar.TypeSymlink, mode: 0o755},
	}
	if got := readEntries(t, l); !slices.Equal(got, want) {
		t.Errorf("entries:\n got %+v\nwant %+v", got, want)
	}
}

func TestFromDirCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	scratch := t.TempDir()
	if _, err := layer.FromDir(ctx, fixtureTree(t), "/workspace", layer.Options{ScratchDir: scratch}); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if left, _ := os.ReadDir(scratch); len(left) != 0 {
		t.Errorf("scratch files left behind: %v", left)
	}
}
