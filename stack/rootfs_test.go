package stack_test

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/stack"
)

var epoch = time.Date(1980, 1, 1, 0, 0, 1, 0, time.UTC)

// makeRootfs writes a small rootfs with the kinds of entries a real one has.
func makeRootfs(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) {
		t.Helper()
		p := filepath.Join(dir, name)
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
	write("usr/lib/os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n", 0o644)
	write("usr/bin/su", "#!/bin/sh\n", os.ModeSetuid|0o755)
	write("usr/bin/tool", "tool\n", 0o755)
	write("etc/shadow", "root:*::0:99999:7:::\n", 0o640)
	write("proc/should-not-be-archived", "x", 0o644)
	for _, d := range []string{"sys", "dev", "tmp"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	os.Chmod(filepath.Join(dir, "tmp"), os.ModeSticky|0o777)
	must(t, os.Symlink("../usr/lib/os-release", filepath.Join(dir, "etc/os-release")))
	must(t, os.Symlink("usr/bin", filepath.Join(dir, "bin")))
	must(t, os.Link(filepath.Join(dir, "usr/bin/tool"), filepath.Join(dir, "usr/bin/tool-alias")))
	if os.Geteuid() == 0 {
		must(t, os.Chown(filepath.Join(dir, "etc/shadow"), 0, 42))
		must(t, syscall.Mknod(filepath.Join(dir, "dev/null"), syscall.S_IFCHR|0o666, 1<<8|3))
	}
	must(t, syscall.Mkfifo(filepath.Join(dir, "usr/fifo"), 0o644))
	return dir
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

type tarEntry struct {
	hdr  tar.Header
	body string
}

func layerEntries(t *testing.T, img v1.Image) []tarEntry {
	t.Helper()
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers = %d, %v; want 1", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var out []tarEntry
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out = append(out, tarEntry{*h, string(b)})
	}
}

// platform.md, Build Reproducibility: sorted entries, 1980 mtimes, blank names; a rootfs keeps its owners.
func TestFromRootfsLayer(t *testing.T) {
	dir := makeRootfs(t)
	img, err := stack.FromRootfs(t.Context(), dir, stack.Config{UID: 1000, GID: 1000, Build: true})
	if err != nil {
		t.Fatal(err)
	}
	entries := layerEntries(t, img)
	byName := map[string]tarEntry{}
	var names []string
	for _, e := range entries {
		names = append(names, e.hdr.Name)
		byName[e.hdr.Name] = e
		if !e.hdr.ModTime.Equal(epoch) {
			t.Errorf("%s mtime = %v, want %v", e.hdr.Name, e.hdr.ModTime, epoch)
		}
		if e.hdr.Uname != "" || e.hdr.Gname != "" {
			t.Errorf("%s uname/gname = %q/%q, want blank", e.hdr.Name, e.hdr.Uname, e.hdr.Gname)
		}
	}
	if !slices.IsSorted(names) {
		t.Errorf("entries not in lexical order: %v", names)
	}
	tests := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"setuid mode kept", func(t *testing.T) {
			if e := byName["usr/bin/su"]; e.hdr.Mode != 0o4755 {
				t.Errorf("usr/bin/su mode = %o, want 4755", e.hdr.Mode)
			}
		}},
		{"sticky dir kept", func(t *testing.T) {
			if e := byName["tmp/"]; e.hdr.Typeflag != tar.TypeDir || e.hdr.Mode != 0o1777 {
				t.Errorf("tmp/ = %c %o, want dir 1777", e.hdr.Typeflag, e.hdr.Mode)
			}
		}},
		{"owner kept", func(t *testing.T) {
			if os.Geteuid() != 0 {
				t.Skip("needs root to chown")
			}
			if e := byName["etc/shadow"]; e.hdr.Uid != 0 || e.hdr.Gid != 42 || e.hdr.Mode != 0o640 {
				t.Errorf("etc/shadow = %d:%d %o, want 0:42 640", e.hdr.Uid, e.hdr.Gid, e.hdr.Mode)
			}
		}},
		{"symlinks kept", func(t *testing.T) {
			if e := byName["bin"]; e.hdr.Typeflag != tar.TypeSymlink || e.hdr.Linkname != "usr/bin" {
				t.Errorf("bin = %c -> %q", e.hdr.Typeflag, e.hdr.Linkname)
			}
		}},
		{"hard links stored once", func(t *testing.T) {
			if e := byName["usr/bin/tool-alias"]; e.hdr.Typeflag != tar.TypeLink || e.hdr.Linkname != "usr/bin/tool" {
				t.Errorf("usr/bin/tool-alias = %c -> %q, want hard link to usr/bin/tool", e.hdr.Typeflag, e.hdr.Linkname)
			}
			if e := byName["usr/bin/tool"]; e.body != "tool\n" {
				t.Errorf("usr/bin/tool body = %q", e.body)
			}
		}},
		{"proc, sys and dev kept empty; devices and fifos left out", func(t *testing.T) {
			for _, n := range []string{"proc/", "sys/", "dev/"} {
				if _, ok := byName[n]; !ok {
					t.Errorf("%s missing", n)
				}
			}
			for _, n := range []string{"proc/should-not-be-archived", "dev/null", "usr/fifo"} {
				if _, ok := byName[n]; ok {
					t.Errorf("%s archived", n)
				}
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.check)
	}
	if err := validate.Image(img); err != nil {
		t.Errorf("validate: %v", err)
	}
}

// platform.md, Build Image (User, CNB_USER_ID/CNB_GROUP_ID, PATH) and the io.buildpacks.base.*
// labels (docs/spec-notes.md, API versions P0.12) that rebase copies (platform.md, rebaser).
func TestFromRootfsConfig(t *testing.T) {
	dir := makeRootfs(t)
	tests := []struct {
		name       string
		cfg        stack.Config
		wantUser   string
		wantEnv    []string
		wantLabels map[string]string
		wantOS     string
		wantArch   string
		wantTime   time.Time
	}{
		{
			name:     "build image",
			cfg:      stack.Config{UID: 1000, GID: 1001, Build: true, Maintainer: "Team", StackID: "io.example.stack"},
			wantUser: "1000:1001",
			wantEnv:  []string{"PATH=" + stack.DefaultPath, "CNB_USER_ID=1000", "CNB_GROUP_ID=1001"},
			wantLabels: map[string]string{
				platform.LabelDistroName: "debian", platform.LabelDistroVersion: "12",
				platform.LabelMaintainer: "Team", platform.LabelStackID: "io.example.stack",
			},
			wantOS: runtime.GOOS, wantArch: runtime.GOARCH, wantTime: epoch,
		},
		{
			name:     "run image with extras",
			cfg:      stack.Config{UID: 1002, GID: 1000, Env: []string{"LANG=C.UTF-8"}, Labels: map[string]string{"x": "y"}, Architecture: "arm64", Created: time.Unix(1700000000, 0).UTC()},
			wantUser: "1002:1000",
			wantEnv:  []string{"PATH=" + stack.DefaultPath, "LANG=C.UTF-8"},
			wantLabels: map[string]string{
				platform.LabelDistroName: "debian", platform.LabelDistroVersion: "12", "x": "y",
			},
			wantOS: runtime.GOOS, wantArch: "arm64", wantTime: time.Unix(1700000000, 0).UTC(),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img, err := stack.FromRootfs(t.Context(), dir, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if cf.Config.User != tc.wantUser {
				t.Errorf("User = %q, want %q", cf.Config.User, tc.wantUser)
			}
			if !slices.Equal(cf.Config.Env, tc.wantEnv) {
				t.Errorf("Env = %q, want %q", cf.Config.Env, tc.wantEnv)
			}
			if len(cf.Config.Labels) != len(tc.wantLabels) {
				t.Errorf("Labels = %v, want %v", cf.Config.Labels, tc.wantLabels)
			}
			for k, v := range tc.wantLabels {
				if cf.Config.Labels[k] != v {
					t.Errorf("label %s = %q, want %q", k, cf.Config.Labels[k], v)
				}
			}
			if cf.OS != tc.wantOS || cf.Architecture != tc.wantArch {
				t.Errorf("platform = %s/%s, want %s/%s", cf.OS, cf.Architecture, tc.wantOS, tc.wantArch)
			}
			if !cf.Created.Time.Equal(tc.wantTime) {
				t.Errorf("Created = %v, want %v", cf.Created.Time, tc.wantTime)
			}
			mt, _ := img.MediaType()
			if mt != "application/vnd.oci.image.manifest.v1+json" {
				t.Errorf("manifest media type = %s, want OCI", mt)
			}
		})
	}
}

// platform.md, Build Reproducibility: the same rootfs gives the same image digest, whatever the mtimes.
func TestFromRootfsReproducible(t *testing.T) {
	dir := makeRootfs(t)
	cfg := stack.Config{UID: 1000, GID: 1000, Build: true}
	first, err := stack.FromRootfs(t.Context(), dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	must(t, os.Chtimes(filepath.Join(dir, "usr/bin/tool"), later, later))
	second, err := stack.FromRootfs(t.Context(), dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := first.Digest()
	d2, _ := second.Digest()
	if d1 != d2 {
		t.Errorf("digests differ: %s vs %s", d1, d2)
	}
	// A content change must change the digest, or the check above proves nothing.
	must(t, os.WriteFile(filepath.Join(dir, "usr/bin/tool"), []byte("changed\n"), 0o755))
	third, err := stack.FromRootfs(t.Context(), dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if d3, _ := third.Digest(); d3 == d1 {
		t.Error("digest unchanged after a content change")
	}
}

func TestFromRootfsMissingDir(t *testing.T) {
	_, err := stack.FromRootfs(t.Context(), filepath.Join(t.TempDir(), "nope"), stack.Config{})
	if err == nil {
		t.Fatal("want an error for a missing rootfs")
	}
}
