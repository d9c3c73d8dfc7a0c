package sandbox_test

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/slipway/slipway/sandbox"
)

// entry is one tar header (and body) of a test layer.
type entry struct {
	name, body, link string
	typ              byte
	mode             int64
	uid, gid         int
}

func layerOf(t *testing.T, entries ...entry) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
			if typ == tar.TypeDir {
				mode = 0o755
			}
		}
		hdr := &tar.Header{Name: e.name, Typeflag: typ, Mode: mode, Uid: e.uid, Gid: e.gid, Linkname: e.link, Size: int64(len(e.body))}
		if typ != tar.TypeReg {
			hdr.Size = 0
		}
		if typ == tar.TypeChar {
			hdr.Devmajor, hdr.Devminor = 1, 3
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func imageOf(t *testing.T, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = runtime.GOOS, runtime.GOARCH
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestUnpack(t *testing.T) {
	asRoot := os.Geteuid() == 0
	tests := []struct {
		name    string
		layers  [][]entry
		wantErr string
		check   func(t *testing.T, dir string)
	}{
		{
			name: "whiteouts and opaque dirs of upper layers apply",
			layers: [][]entry{
				{{name: "a/", typ: tar.TypeDir}, {name: "a/gone", body: "x"}, {name: "a/kept", body: "k"},
					{name: "b/", typ: tar.TypeDir}, {name: "b/lower", body: "l"}},
				{{name: "a/.wh.gone", body: ""}, {name: "b/", typ: tar.TypeDir}, {name: "b/.wh..wh..opq"}, {name: "b/upper", body: "u"}},
			},
			check: func(t *testing.T, dir string) {
				wantFile(t, dir, "a/kept", "k")
				wantFile(t, dir, "b/upper", "u")
				wantAbsent(t, dir, "a/gone", "b/lower", "a/.wh.gone", "b/.wh..wh..opq")
			},
		},
		{
			name: "a dir entry from a lower layer keeps its mode after upper files land in it",
			layers: [][]entry{
				{{name: "d/", typ: tar.TypeDir, mode: 0o700}},
				{{name: "d/f", body: "f"}},
			},
			check: func(t *testing.T, dir string) {
				wantFile(t, dir, "d/f", "f")
				wantMode(t, dir, "d", fs.ModeDir|0o700)
			},
		},
		{
			// A setuid-root file of an untrusted image must not become one on the host.
			name: "modes and owners are kept, setuid and setgid bits dropped",
			layers: [][]entry{{
				{name: "bin/", typ: tar.TypeDir},
				{name: "bin/su", body: "#!", mode: 0o4755, uid: 0, gid: 0},
				{name: "bin/wall", body: "#!", mode: 0o2755, uid: 123, gid: 456},
				{name: "ro", body: "r", mode: 0o444},
			}},
			check: func(t *testing.T, dir string) {
				wantMode(t, dir, "bin/su", 0o755)
				wantMode(t, dir, "bin/wall", 0o755)
				wantMode(t, dir, "ro", 0o444)
				if asRoot {
					wantOwner(t, dir, "bin/wall", 123, 456)
				}
			},
		},
		{
			name: "symlinks and hard links",
			layers: [][]entry{{
				{name: "usr/bin/", typ: tar.TypeDir},
				{name: "usr/bin/tool", body: "T", mode: 0o755},
				{name: "bin", typ: tar.TypeSymlink, link: "usr/bin"},
				{name: "usr/bin/alias", typ: tar.TypeLink, link: "usr/bin/tool"},
			}},
			check: func(t *testing.T, dir string) {
				wantFile(t, dir, "bin/tool", "T")
				wantFile(t, dir, "usr/bin/alias", "T")
				a, _ := os.Stat(filepath.Join(dir, "usr/bin/alias"))
				b, _ := os.Stat(filepath.Join(dir, "usr/bin/tool"))
				if !os.SameFile(a, b) {
					t.Error("usr/bin/alias is not a hard link to usr/bin/tool")
				}
			},
		},
		{
			name:   "device nodes are skipped",
			layers: [][]entry{{{name: "dev/", typ: tar.TypeDir}, {name: "dev/null", typ: tar.TypeChar, mode: 0o666}}},
			check: func(t *testing.T, dir string) {
				wantAbsent(t, dir, "dev/null")
			},
		},
		{
			name:   "mount points for the sandbox are created (platform.md, Usage (default locations))",
			layers: [][]entry{{{name: "etc/", typ: tar.TypeDir}, {name: "etc/resolv.conf", typ: tar.TypeSymlink, link: "/run/systemd/resolve/stub-resolv.conf"}}},
			check: func(t *testing.T, dir string) {
				for _, d := range []string{"workspace", "layers", "platform", "cnb", "proc", "dev"} {
					if fi, err := os.Stat(filepath.Join(dir, d)); err != nil || !fi.IsDir() {
						t.Errorf("/%s is not a dir: %v", d, err)
					}
				}
				wantMode(t, dir, "tmp", fs.ModeDir|fs.ModeSticky|0o777)
				wantMode(t, dir, "etc/resolv.conf", 0o644)
			},
		},
		{
			name:    "a name climbing out of the rootfs is rejected",
			layers:  [][]entry{{{name: "../escaped", body: "x"}}},
			wantErr: "path traversal",
		},
		{
			name: "writes through an absolute symlink stay inside the rootfs",
			layers: [][]entry{
				{{name: "run/", typ: tar.TypeDir}, {name: "var/", typ: tar.TypeDir}, {name: "var/run", typ: tar.TypeSymlink, link: "/run"},
					{name: "up", typ: tar.TypeSymlink, link: "../../../../../tmp"}},
				{{name: "var/run/pid", body: "1"}, {name: "up/escaped-via-link", body: "x"}},
			},
			check: func(t *testing.T, dir string) {
				wantFile(t, dir, "run/pid", "1")
				wantFile(t, dir, "tmp/escaped-via-link", "x")
				if _, err := os.Stat("/tmp/escaped-via-link"); err == nil {
					t.Error("a layer entry was written outside the rootfs")
				}
			},
		},
		{
			name:    "a hard link to outside the rootfs is rejected",
			layers:  [][]entry{{{name: "h", typ: tar.TypeLink, link: "../../etc/passwd"}}},
			wantErr: "path traversal",
		},
		{
			name: "a hard link through a symlink resolves inside the rootfs",
			layers: [][]entry{{{name: "etc/", typ: tar.TypeDir}, {name: "etc/passwd", body: "inside"},
				{name: "up", typ: tar.TypeSymlink, link: "/../../"}, {name: "h", typ: tar.TypeLink, link: "up/etc/passwd"}}},
			check: func(t *testing.T, dir string) {
				wantFile(t, dir, "h", "inside")
			},
		},
		{
			name: "an upper layer replaces a dir with a file and a file with a dir",
			layers: [][]entry{
				{{name: "a/", typ: tar.TypeDir}, {name: "a/child", body: "c"}, {name: "b", body: "file"}},
				{{name: "a", body: "now a file"}, {name: "b/", typ: tar.TypeDir}, {name: "b/x", body: "x"}},
			},
			check: func(t *testing.T, dir string) {
				wantFile(t, dir, "a", "now a file")
				wantFile(t, dir, "b/x", "x")
			},
		},
		{
			name: "an opaque whiteout keeps what its own layer adds",
			layers: [][]entry{
				{{name: "o/", typ: tar.TypeDir}, {name: "o/lower", body: "l"}},
				{{name: "o/new", body: "n"}, {name: "o/.wh..wh..opq"}},
			},
			check: func(t *testing.T, dir string) {
				wantFile(t, dir, "o/new", "n")
				wantAbsent(t, dir, "o/lower")
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var layers []v1.Layer
			for _, l := range tc.layers {
				layers = append(layers, layerOf(t, l...))
			}
			cache := filepath.Join(t.TempDir(), "cache")
			dir, err := sandbox.Unpack(t.Context(), imageOf(t, layers...), cache)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				if _, err := os.Stat("/tmp/escaped-via-link"); err == nil {
					t.Error("a layer entry was written outside the rootfs")
				}
				if m, _ := filepath.Glob(filepath.Join(cache, "*")); len(m) > 1 {
					t.Errorf("failed unpack left %v behind", m)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, dir)
		})
	}
}

// The rootfs is unpacked once per image and reused, including by concurrent callers.
func TestUnpackOncePerDigest(t *testing.T) {
	img := imageOf(t, layerOf(t, entry{name: "f", body: "v1"}))
	cache := t.TempDir()
	const n = 4
	dirs := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dirs[i], errs[i] = sandbox.Unpack(t.Context(), img, cache)
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || dirs[i] != dirs[0] {
			t.Fatalf("caller %d: dir %q, err %v; want %q", i, dirs[i], errs[i], dirs[0])
		}
	}
	cfg, _ := img.ConfigName()
	if filepath.Base(dirs[0]) != "nosetid-"+cfg.Hex {
		t.Errorf("dir %s is not named for config digest %s", dirs[0], cfg.Hex)
	}
	// A later call must reuse the directory, not extract again.
	if err := os.WriteFile(filepath.Join(dirs[0], "marker"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	again, err := sandbox.Unpack(t.Context(), img, cache)
	if err != nil || again != dirs[0] {
		t.Fatalf("second Unpack = %q, %v", again, err)
	}
	wantFile(t, again, "marker", "")
	if m, _ := filepath.Glob(filepath.Join(cache, "*.tmp")); len(m) > 0 {
		t.Errorf("temp dirs left behind: %v", m)
	}
}

func TestUnpackRejectsOtherPlatform(t *testing.T) {
	img := imageOf(t, layerOf(t, entry{name: "f", body: "x"}))
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.Architecture = "s390x"
	if runtime.GOARCH == "s390x" {
		cf.Architecture = "amd64"
	}
	img, _ = mutate.ConfigFile(img, cf)
	_, err := sandbox.Unpack(t.Context(), img, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), cf.Architecture) {
		t.Fatalf("err = %v, want a platform mismatch naming %s", err, cf.Architecture)
	}
}

func wantFile(t *testing.T, dir, name, body string) {
	t.Helper()
	got, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil || string(got) != body {
		t.Errorf("%s = %q, %v; want %q", name, got, err, body)
	}
}

func wantAbsent(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
			t.Errorf("%s exists, want it absent", n)
		}
	}
}

func wantMode(t *testing.T, dir, name string, mode fs.FileMode) {
	t.Helper()
	fi, err := os.Lstat(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != mode {
		t.Errorf("%s mode = %v, want %v", name, fi.Mode(), mode)
	}
}

func wantOwner(t *testing.T, dir, name string, uid, gid int) {
	t.Helper()
	fi, err := os.Lstat(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if int(st.Uid) != uid || int(st.Gid) != gid {
		t.Errorf("%s owner = %d:%d, want %d:%d", name, st.Uid, st.Gid, uid, gid)
	}
}
