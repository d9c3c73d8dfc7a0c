package lifecycle

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// tarLayer is a layer holding the named files (empty) or symlinks ("name -> target").
func tarLayer(t *testing.T, names ...string) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		h := &tar.Header{Name: n, Mode: 0o644, Typeflag: tar.TypeReg}
		if name, target, ok := strings.Cut(n, " -> "); ok {
			h = &tar.Header{Name: name, Linkname: target, Mode: 0o777, Typeflag: tar.TypeSymlink}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
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

func runImage(t *testing.T, arch string, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = arch, "linux"
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// platform.md, Exporter: the image must be able to start; a launch-layer ELF file whose
// DT_NEEDED library is nowhere in the run image or the layers fails the export, naming the
// file and the library. /usr/bin/ls of the host needs libselinux.so.1 and libc.so.6.
func TestCheckLaunchELF(t *testing.T) {
	ls, err := os.ReadFile("/usr/bin/ls")
	if err != nil {
		t.Skip("no /usr/bin/ls to use as a dynamically linked ELF file")
	}
	libc := tarLayer(t, "usr/lib/x86_64-linux-gnu/libc.so.6", "lib -> usr/lib")
	selinux := tarLayer(t, "usr/lib/x86_64-linux-gnu/libselinux.so.1")
	whiteout := tarLayer(t, "usr/lib/x86_64-linux-gnu/.wh.libselinux.so.1")
	elsewhere := tarLayer(t, "opt/app/libselinux.so.1") // not a library directory
	cases := []struct {
		name     string
		run      v1.Image
		layerLib bool // the launch layer ships lib/libselinux.so.1
		missing  string
	}{
		{"run image has both", runImage(t, "amd64", libc, selinux), false, ""},
		{"run image lacks one", runImage(t, "amd64", libc), false, "libselinux.so.1"},
		{"a layer ships it", runImage(t, "amd64", libc), true, ""},
		{"removed by a whiteout", runImage(t, "amd64", libc, selinux, whiteout), false, "libselinux.so.1"},
		{"outside the library dirs", runImage(t, "amd64", libc, elsewhere), false, "libselinux.so.1"},
		{"another machine's binary is not loaded", runImage(t, "arm64", libc), false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "bin", "tool"), ls, 0o755); err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, "bin", "script"), []byte("#!/bin/sh\necho not an ELF file, long enough to be opened and rejected\n"), 0o755)
			if tc.layerLib {
				os.MkdirAll(filepath.Join(dir, "lib"), 0o755)
				os.WriteFile(filepath.Join(dir, "lib", "libselinux.so.1"), nil, 0o644)
			}
			layers := []launchDirLayer{{name: "example/bp:tools", dir: dir, imagePath: "/layers/example_bp/tools"}}
			err := checkLaunchELF(context.Background(), tc.run, "example/run:1", layers, t.TempDir())
			if tc.missing == "" {
				if err != nil {
					t.Fatalf("unexpected: %v", err)
				}
				return
			}
			var me *MissingLibraryError
			if !errors.As(err, &me) || len(me.Missing) != 1 || me.Missing[0].Library != tc.missing ||
				me.Missing[0].File != "/layers/example_bp/tools/bin/tool" || me.Missing[0].Layer != "example/bp:tools" {
				t.Fatalf("err = %#v", err)
			}
			for _, w := range []string{"/layers/example_bp/tools/bin/tool (layer example/bp:tools) needs libselinux.so.1", "example/run:1", ELFCheckOptOut} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message lacks %q:\n%s", w, err)
				}
			}
		})
	}
}

// The run image's library list is kept on disk by digest: a second check does not read the
// image's layers again.
func TestRunImageLibrariesCache(t *testing.T) {
	img := runImage(t, "amd64", tarLayer(t, "usr/lib/x86_64-linux-gnu/libatomic.so.1"))
	dir := t.TempDir()
	libs, err := runImageLibraries(context.Background(), img, dir)
	if err != nil || !libs["libatomic.so.1"] {
		t.Fatalf("libs %v, %v", libs, err)
	}
	d, _ := img.Digest()
	if b, err := os.ReadFile(filepath.Join(dir, d.Algorithm+"-"+d.Hex+".json")); err != nil || !strings.Contains(string(b), "libatomic.so.1") {
		t.Fatalf("cache file: %q %v", b, err)
	}
}

// SLIPWAY_SKIP_ELF_CHECK in the platform env turns the check off.
func TestELFCheckDisabled(t *testing.T) {
	dir := t.TempDir()
	if ELFCheckDisabled(dir) {
		t.Fatal("disabled without the variable")
	}
	os.MkdirAll(filepath.Join(dir, "env"), 0o755)
	os.WriteFile(filepath.Join(dir, "env", ELFCheckOptOut), []byte("true\n"), 0o644)
	if !ELFCheckDisabled(dir) {
		t.Fatal("not disabled by SLIPWAY_SKIP_ELF_CHECK=true")
	}
}
