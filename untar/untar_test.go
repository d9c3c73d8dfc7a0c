package untar

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/slipway/slipway/untar/untartest"
)

type entry struct {
	name, body, link string
	typ              byte
}

func tarOf(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: e.name, Typeflag: typ, Linkname: e.link, Mode: 0o644, Size: int64(len(e.body)), Format: tar.FormatPAX}
		if typ != tar.TypeReg {
			h.Size = 0
		}
		if typ == tar.TypeDir {
			h.Mode = 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	return b.Bytes()
}

// Every hostile archive fails with a clear error and writes nothing beside the directory.
func TestIntoRefuses(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		tar     []byte
		wantErr string
	}{
		{"dot-dot name", Options{}, tarOf(t, entry{name: "../outside/pwned", body: "x"}), "path traversal"},
		{"dot-dot name in a layer", Options{Layer: true}, tarOf(t, entry{name: "a/../../outside/pwned", body: "x"}), "path traversal"},
		{"absolute name", Options{}, tarOf(t, entry{name: "/outside/pwned", body: "x"}), "absolute path"},
		{"write through a symlink", Options{}, tarOf(t, entry{name: "l", typ: tar.TypeSymlink, link: "../outside"}, entry{name: "l/pwned", body: "x"}), "through symlink"},
		{"write through an in-root symlink", Options{}, tarOf(t, entry{name: "d", typ: tar.TypeDir}, entry{name: "l", typ: tar.TypeSymlink, link: "d"}, entry{name: "l/f", body: "x"}), "through symlink"},
		{"hard link out", Options{}, tarOf(t, entry{name: "h", typ: tar.TypeLink, link: "../outside/victim"}), "path traversal"},
		{"hard link to a symlink", Options{}, tarOf(t, entry{name: "s", typ: tar.TypeSymlink, link: "/etc/passwd"}, entry{name: "h", typ: tar.TypeLink, link: "s"}), "regular file extracted earlier"},
		{"hard link outside the selection", Options{Select: func(n string) (string, bool) { return strings.CutPrefix(n, "keep/") }},
			tarOf(t, entry{name: "other", body: "x"}, entry{name: "keep/h", typ: tar.TypeLink, link: "other"}), "outside what is extracted"},
		{"sparse entry in an archive", Options{}, untartest.SparseTar("big", 1<<30, nil), "sparse file claiming 1.0 GiB"},
		{"over the budget", Options{Budget: NewBudget(4096)}, tarOf(t, entry{name: "a", body: strings.Repeat("x", 5000)}), "past its limit of 4.0 KiB"},
		{"sparse claim over the budget", Options{Layer: true, Budget: NewBudget(1 << 20)}, untartest.SparseTar("big", 1<<40, nil), "past its limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			dir := filepath.Join(base, "root")
			must(t, os.MkdirAll(filepath.Join(base, "outside"), 0o755))
			must(t, os.WriteFile(filepath.Join(base, "outside", "victim"), []byte("canary"), 0o644))
			must(t, os.Mkdir(dir, 0o755))
			err := Into(context.Background(), bytes.NewReader(tc.tar), dir, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
			}
			if _, err := os.Lstat(filepath.Join(base, "outside", "pwned")); err == nil {
				t.Error("an entry was written outside the directory")
			}
			if b, _ := os.ReadFile(filepath.Join(base, "outside", "victim")); string(b) != "canary" {
				t.Errorf("victim changed: %q", b)
			}
		})
	}
}

// A layer's sparse entry keeps its holes: 1 GiB claimed, a few KiB on disk.
func TestLayerSparseKeepsHoles(t *testing.T) {
	dir := t.TempDir()
	if err := Into(context.Background(), bytes.NewReader(untartest.SparseTar("big", 1<<30, nil)), dir, Options{Layer: true}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "big"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != 1<<30 {
		t.Errorf("size = %d, want 1 GiB", fi.Size())
	}
	if used := fi.Sys().(*syscall.Stat_t).Blocks * 512; used > 1<<20 {
		t.Errorf("the sparse entry takes %d bytes on disk, want holes", used)
	}
	b := make([]byte, 1)
	f, _ := os.Open(filepath.Join(dir, "big"))
	defer f.Close()
	if _, err := f.ReadAt(b, 1<<30-1); err != nil || b[0] != 'x' {
		t.Errorf("last byte = %q, %v; want the entry's data", b, err)
	}
}

// Layers resolve symlinked parents inside the root, as a container would.
func TestLayerSymlinkParentStaysInside(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "root")
	must(t, os.Mkdir(dir, 0o755))
	d, err := Open(dir, Options{Layer: true})
	must(t, err)
	must(t, d.Apply(context.Background(), bytes.NewReader(tarOf(t, entry{name: "run", typ: tar.TypeDir}, entry{name: "var/run", typ: tar.TypeSymlink, link: "/run"}, entry{name: "esc", typ: tar.TypeSymlink, link: "../../.."}))))
	must(t, d.Apply(context.Background(), bytes.NewReader(tarOf(t, entry{name: "var/run/pid", body: "1"}, entry{name: "esc/pwned", body: "x"}))))
	must(t, d.Close())
	if b, err := os.ReadFile(filepath.Join(dir, "run", "pid")); err != nil || string(b) != "1" {
		t.Errorf("run/pid = %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "pwned")); err != nil {
		t.Errorf("esc/pwned should land at the root's top: %v", err)
	}
	if _, err := os.Stat(filepath.Join(base, "pwned")); err == nil {
		t.Error("a layer wrote outside the root")
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1048576": 1 << 20, "512MiB": 512 << 20, "16G": 16 << 30, "2tib": 2 << 40, "4k": 4096} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1", "0", "lots", "1.5G", "99999999999T"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) succeeded", bad)
		}
	}
	t.Setenv(LimitEnv, "nonsense")
	if _, err := FromEnv(); err == nil || !strings.Contains(err.Error(), LimitEnv) {
		t.Errorf("FromEnv with a bad value: %v", err)
	}
	t.Setenv(LimitEnv, "1KiB")
	b, err := FromEnv()
	must(t, err)
	err = Into(context.Background(), bytes.NewReader(tarOf(t, entry{name: "a", body: strings.Repeat("x", 2000)})), t.TempDir(), Options{Budget: b})
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != 1024 {
		t.Errorf("err = %v, want a LimitError at 1 KiB", err)
	}
}

// FuzzInto feeds arbitrary streams to both semantics: nothing may be written outside the
// directory and nothing may panic.
func FuzzInto(f *testing.F) {
	f.Add(tarOf(f, entry{name: "a/b", body: "x"}, entry{name: "l", typ: tar.TypeSymlink, link: "/etc"}, entry{name: "l/x", body: "y"}), false)
	f.Add(tarOf(f, entry{name: "../x", body: "x"}), true)
	f.Add(tarOf(f, entry{name: "d", typ: tar.TypeDir}, entry{name: "d/.wh..wh..opq"}, entry{name: "h", typ: tar.TypeLink, link: "d/../../x"}), true)
	f.Add(untartest.SparseTar("big", 1<<20, map[string]string{"a": "b"}), true)
	f.Fuzz(func(t *testing.T, data []byte, layer bool) {
		base := t.TempDir()
		dir := filepath.Join(base, "root")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		_ = Into(context.Background(), bytes.NewReader(data), dir, Options{Layer: layer, Budget: NewBudget(8 << 20)})
		ents, err := os.ReadDir(base)
		if err != nil || len(ents) != 1 {
			t.Fatalf("the extraction wrote beside its directory: %v %v", ents, err)
		}
	})
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
