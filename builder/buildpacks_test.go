package builder

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/slipway/slipway/buildpack"
)

// tarEntry is one entry written by writeArchive.
type tarEntry struct {
	name, body, link string
	typ              byte
	mode             int64
}

// writeArchive writes entries as a tar (gzipped when gz) and returns its path.
func writeArchive(t *testing.T, path string, gz bool, entries []tarEntry) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var w io.Writer = f
	if gz {
		zw := gzip.NewWriter(f)
		defer zw.Close()
		w = zw
	}
	tw := tar.NewWriter(w)
	defer tw.Close()
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		hdr := &tar.Header{Name: e.name, Typeflag: typ, Mode: mode, Size: int64(len(e.body)), Linkname: e.link}
		if typ != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return path
}

// tarDir archives a fixture directory, as `tar -czf` of a buildpack would.
func tarDir(t *testing.T, dir, out string) string {
	t.Helper()
	var entries []tarEntry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, _ := d.Info()
		switch {
		case rel == ".":
		case d.IsDir():
			entries = append(entries, tarEntry{name: "./" + rel + "/", typ: tar.TypeDir, mode: 0o755})
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			entries = append(entries, tarEntry{name: "./" + rel, body: string(b), mode: int64(info.Mode().Perm())})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return writeArchive(t, out, true, entries)
}

func abs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// docs/spec-notes.md, Builder image; platform.md, Buildpacks Directory Layout: buildpacks land at <buildpacks>/<id with / → _>/<version>/ and run.
func TestFetchBuildpacks(t *testing.T) {
	work := t.TempDir()
	tarDir(t, "testdata/simple", filepath.Join(work, "simple.tgz"))
	simpleAbs := abs(t, "testdata/simple")
	compositeAbs := abs(t, "testdata/composite")
	tests := []struct {
		name  string
		cfg   Config
		order buildpack.Order // cfg.Order after the call
		want  []string        // refs in config order
	}{
		{
			name:  "directory relative to builder.toml",
			cfg:   Config{Dir: abs(t, "testdata"), Buildpacks: []BuildpackConfig{{ID: "example/simple", Version: "1.0.0", URI: "simple"}}, Order: buildpack.Order{{Group: []buildpack.GroupElement{{ID: "example/simple"}}}}},
			order: buildpack.Order{{Group: []buildpack.GroupElement{{ID: "example/simple", Version: "1.0.0"}}}},
			want:  []string{"example/simple@1.0.0"},
		},
		{
			name:  "tgz archive",
			cfg:   Config{Dir: work, Buildpacks: []BuildpackConfig{{URI: "simple.tgz"}}, Order: buildpack.Order{{Group: []buildpack.GroupElement{{ID: "example/simple", Version: "1.0.0"}}}}},
			order: buildpack.Order{{Group: []buildpack.GroupElement{{ID: "example/simple", Version: "1.0.0"}}}},
			want:  []string{"example/simple@1.0.0"},
		},
		{
			name: "file URL and composite with its child",
			cfg: Config{Buildpacks: []BuildpackConfig{{URI: "file://" + compositeAbs}, {URI: simpleAbs}},
				Order: buildpack.Order{{Group: []buildpack.GroupElement{{ID: "example/composite", Version: "2.0.0"}}}}},
			order: buildpack.Order{{Group: []buildpack.GroupElement{{ID: "example/composite", Version: "2.0.0"}}}},
			want:  []string{"example/composite@2.0.0", "example/simple@1.0.0"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), "buildpacks")
			cfg := tc.cfg
			got, err := FetchBuildpacks(context.Background(), &cfg, dest)
			if err != nil {
				t.Fatal(err)
			}
			var refs []string
			for _, d := range got {
				refs = append(refs, d.Ref())
				want := filepath.Join(dest, buildpack.EscapedID(d.Buildpack.ID), d.Buildpack.Version)
				if d.Dir != want {
					t.Errorf("%s laid out at %s, want %s", d.Ref(), d.Dir, want)
				}
				if _, err := buildpack.ReadDescriptor(want); err != nil {
					t.Error(err)
				}
			}
			if strings.Join(refs, ",") != strings.Join(tc.want, ",") {
				t.Errorf("got %v, want %v", refs, tc.want)
			}
			if !reflect.DeepEqual(cfg.Order, tc.order) {
				t.Errorf("order = %+v, want %+v", cfg.Order, tc.order)
			}
			// The laid-out buildpack is runnable: modes survived the copy or extraction.
			bin := filepath.Join(dest, "example_simple", "1.0.0", "bin", "build")
			out, err := exec.Command(bin).CombinedOutput()
			if err != nil || string(out) != "simple build\n" {
				t.Errorf("run %s: %v %q", bin, err, out)
			}
			// No staging leftovers in the buildpacks dir.
			entries, _ := os.ReadDir(dest)
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), ".") {
					t.Errorf("leftover %s", e.Name())
				}
			}
		})
	}
}

func TestFetchBuildpacksErrors(t *testing.T) {
	work := t.TempDir()
	simpleOrder := buildpack.Order{{Group: []buildpack.GroupElement{{ID: "example/simple"}}}}
	outside := filepath.Join(work, "outside")
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"id mismatch", Config{Path: "builder.toml", Buildpacks: []BuildpackConfig{{ID: "example/wrong", URI: abs(t, "testdata/simple")}}, Order: simpleOrder}, "config says example/wrong but"},
		{"version mismatch", Config{Buildpacks: []BuildpackConfig{{ID: "example/simple", Version: "9.9.9", URI: abs(t, "testdata/simple")}}, Order: simpleOrder}, "is example/simple@1.0.0"},
		{"composite child missing", Config{Buildpacks: []BuildpackConfig{{URI: abs(t, "testdata/composite")}}, Order: simpleOrder}, "composite buildpack example/composite@2.0.0 needs example/simple@1.0.0"},
		{"order names unknown buildpack", Config{Buildpacks: []BuildpackConfig{{URI: abs(t, "testdata/simple")}}, Order: buildpack.Order{{Group: []buildpack.GroupElement{{ID: "example/nope"}}}}}, "[[order]] entry 1 names example/nope"},
		{"missing uri path", Config{Dir: work, Buildpacks: []BuildpackConfig{{URI: "nope"}}, Order: simpleOrder}, "uri nope"},
		{"image entry", Config{Buildpacks: []BuildpackConfig{{Image: "example/bp:1"}}, Order: simpleOrder}, `"example/bp:1": image buildpacks are not supported yet`},
		{"docker uri", Config{Buildpacks: []BuildpackConfig{{URI: "docker://example/bp:1"}}, Order: simpleOrder}, "docker://example/bp:1: docker:// buildpacks are not supported yet"},
		{"unreachable http uri", Config{Buildpacks: []BuildpackConfig{{URI: "http://127.0.0.1:1/bp.tgz"}}, Order: simpleOrder, FetchCacheDir: t.TempDir()}, "fetch buildpack http://127.0.0.1:1/bp.tgz"},
		{"registry urn", Config{Buildpacks: []BuildpackConfig{{URI: "urn:cnb:registry:example/bp"}}, Order: simpleOrder}, "not supported yet"},
		{"traversal in tgz", Config{Buildpacks: []BuildpackConfig{{URI: writeArchive(t, filepath.Join(work, "evil.tgz"), true, []tarEntry{
			{name: "buildpack.toml", body: "api = \"0.12\"\n[buildpack]\nid = \"e\"\nversion = \"1.0.0\"\n"},
			{name: "../outside/pwned", body: "x"},
		})}}, Order: simpleOrder}, "path traversal"},
		{"absolute path in tar", Config{Buildpacks: []BuildpackConfig{{URI: writeArchive(t, filepath.Join(work, "abs.tar"), false, []tarEntry{
			{name: filepath.Join(outside, "pwned"), body: "x"},
		})}}, Order: simpleOrder}, "absolute path"},
		{"write through extracted symlink", Config{Buildpacks: []BuildpackConfig{{URI: writeArchive(t, filepath.Join(work, "link.tgz"), true, []tarEntry{
			{name: "escape", typ: tar.TypeSymlink, link: outside},
			{name: "escape/pwned", body: "x"},
		})}}, Order: simpleOrder}, "through symlink"},
		{"hard link outside", Config{Buildpacks: []BuildpackConfig{{URI: writeArchive(t, filepath.Join(work, "hard.tgz"), true, []tarEntry{
			{name: "h", typ: tar.TypeLink, link: "../../etc/passwd"},
		})}}, Order: simpleOrder}, "path traversal"},
		{"archive without buildpack.toml", Config{Buildpacks: []BuildpackConfig{{URI: writeArchive(t, filepath.Join(work, "empty.tgz"), true, []tarEntry{
			{name: "nested/buildpack.toml", body: "x"},
		})}}, Order: simpleOrder}, "no buildpack.toml at its root"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			must(t, os.MkdirAll(outside, 0o755))
			cfg := tc.cfg
			_, err := FetchBuildpacks(context.Background(), &cfg, filepath.Join(t.TempDir(), "buildpacks"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			if _, err := os.Lstat(filepath.Join(outside, "pwned")); err == nil {
				t.Fatal("archive wrote outside the extraction directory")
			}
		})
	}
}

// Laying out a buildpack twice replaces the earlier copy (e.g. a rebuilt --buildpack DIR).
func TestLayoutBuildpackDirReplaces(t *testing.T) {
	src := t.TempDir()
	must(t, os.WriteFile(filepath.Join(src, "buildpack.toml"), []byte("api = \"0.12\"\n[buildpack]\nid = \"a/b\"\nversion = \"0.1.0\"\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(src, "old"), []byte("old"), 0o644))
	must(t, os.Symlink("/etc/hostname", filepath.Join(src, "link")))
	dest := t.TempDir()
	ctx := context.Background()
	d, err := LayoutBuildpackDir(ctx, src, dest)
	if err != nil {
		t.Fatal(err)
	}
	if got := filepath.Join(dest, "a_b", "0.1.0"); d.Dir != got {
		t.Fatalf("dir %s, want %s", d.Dir, got)
	}
	must(t, os.Remove(filepath.Join(src, "old")))
	must(t, os.WriteFile(filepath.Join(src, "new"), []byte("new"), 0o644))
	if _, err := LayoutBuildpackDir(ctx, src, dest); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(d.Dir, "old")); err == nil {
		t.Error("stale file survived the re-layout")
	}
	if b, _ := os.ReadFile(filepath.Join(d.Dir, "new")); string(b) != "new" {
		t.Errorf("new = %q", b)
	}
	if target, err := os.Readlink(filepath.Join(d.Dir, "link")); err != nil || target != "/etc/hostname" {
		t.Errorf("link = %q, %v; want a copied symlink", target, err)
	}
	if _, err := LayoutBuildpackDir(ctx, t.TempDir(), dest); err == nil || !strings.Contains(err.Error(), "buildpack.toml") {
		t.Errorf("dir without buildpack.toml: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
