package builder

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/slipway/slipway/platform"
)

func writePackageToml(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "package.toml")
	must(t, os.WriteFile(p, []byte(body), 0o644))
	return p
}

func packageFile(t *testing.T, cfgBody, out string) {
	t.Helper()
	cfg, err := ReadPackageConfig(writePackageToml(t, cfgBody))
	if err != nil {
		t.Fatal(err)
	}
	img, err := Package(context.Background(), PackageOptions{Config: cfg, ScratchDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Fatalf("validate.Image: %v", err)
	}
	must(t, WriteCNB(context.Background(), img, out))
}

func fileSum(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(b))
}

// distribution.md, Buildpackage: a .cnb is an uncompressed tar of an OCI layout with one layer per
// buildpack and the buildpackage labels; it reads back, including as a dependency of
// another package, and packaging is reproducible.
func TestPackageCNBRoundTrip(t *testing.T) {
	dir := t.TempDir()
	simpleCNB := filepath.Join(dir, "simple.cnb")
	packageFile(t, "[buildpack]\nuri = \""+abs(t, "testdata/simple")+"\"\n", simpleCNB)
	again := filepath.Join(dir, "again.cnb")
	packageFile(t, "[buildpack]\nuri = \""+abs(t, "testdata/simple")+"\"\n[platform]\nos = \"linux\"\n", again)
	if fileSum(t, simpleCNB) != fileSum(t, again) {
		t.Error("packaging the same buildpack twice gave different .cnb files")
	}

	// The .cnb is a plain tar with oci-layout, index.json and blobs/.
	f, err := os.Open(simpleCNB)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not an uncompressed tar: %v", err)
		}
		names[h.Name] = true
	}
	f.Close()
	for _, n := range []string{"oci-layout", "index.json", "blobs/sha256/"} {
		if !names[n] {
			t.Errorf(".cnb lacks %s: %v", n, names)
		}
	}

	// Composite with its child as a .cnb dependency.
	compCNB := filepath.Join(dir, "composite.cnb")
	packageFile(t, "[buildpack]\nuri = \""+abs(t, "testdata/composite")+"\"\n[[dependencies]]\nuri = \""+simpleCNB+"\"\n", compCNB)

	img, err := ReadCNB(context.Background(), compCNB, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	if got := cf.Config.Labels[platform.LabelBuildpackageMetadata]; got != `{"id":"example/composite","version":"2.0.0","stacks":[]}` {
		t.Errorf("buildpackage metadata = %s", got)
	}
	layers, _ := img.Layers()
	if len(layers) != 2 || cf.OS != "linux" {
		t.Errorf("%d layers, os %q; want one layer per buildpack, linux", len(layers), cf.OS)
	}

	dest := filepath.Join(t.TempDir(), "bps")
	descs, err := LayoutBuildpackageFile(context.Background(), compCNB, dest)
	if err != nil {
		t.Fatal(err)
	}
	if len(descs) != 2 || descs[0].Ref() != "example/composite@2.0.0" || descs[1].Ref() != "example/simple@1.0.0" {
		t.Fatalf("descriptors %v", descs)
	}
	if fi, err := os.Stat(filepath.Join(dest, "example_simple", "1.0.0", "bin", "detect")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("bin/detect: %v %v", fi, err)
	}
	// LayoutBuildpackPath recognises a .cnb by content, whatever its name.
	renamed := filepath.Join(dir, "simple.bin")
	must(t, os.Link(simpleCNB, renamed))
	got, err := LayoutBuildpackPath(context.Background(), renamed, filepath.Join(t.TempDir(), "bps"))
	if err != nil || len(got) != 1 || got[0].Ref() != "example/simple@1.0.0" {
		t.Errorf("LayoutBuildpackPath(.cnb) = %v, %v", got, err)
	}
}

// Malformed package.toml → the file and position (issue: errors name file and position).
func TestReadPackageConfigErrors(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"syntax error", "[buildpack]\nuri = = \"x\"\n", "line 2, column 7"},
		{"unknown key", "[buildpack]\nuri = \"x\"\nurl = \"y\"\n", "unknown keys buildpack.url"},
		{"no buildpack", "[platform]\nos = \"linux\"\n", "set [buildpack] uri"},
		{"uri and image", "[buildpack]\nuri = \"x\"\n[[dependencies]]\nuri = \"a\"\nimage = \"b\"\n", "entry 1: set exactly one of uri or image"},
		{"windows", "[buildpack]\nuri = \"x\"\n[platform]\nos = \"windows\"\n", `os "windows" is not supported`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := writePackageToml(t, tc.body)
			_, err := ReadPackageConfig(p)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
				t.Errorf("error %v, want it to name %s and contain %q", err, p, tc.want)
			}
		})
	}
}

func TestPackageErrors(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"composite without child", "[buildpack]\nuri = \"" + abs(t, "testdata/composite") + "\"\n", "needs example/simple@1.0.0"},
		{"image dependency without fetcher", "[buildpack]\nuri = \"" + abs(t, "testdata/simple") + "\"\n[[dependencies]]\nimage = \"example/dep\"\n", "cannot be fetched"},
		{"missing uri", "[buildpack]\nuri = \"nope\"\n", "nope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ReadPackageConfig(writePackageToml(t, tc.body))
			if err != nil {
				t.Fatal(err)
			}
			_, err = Package(context.Background(), PackageOptions{Config: cfg, ScratchDir: t.TempDir()})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// distribution.md, Buildpackage: builder.toml [[buildpacks]] may name a .cnb; it expands to its buildpacks.
func TestResolveBuildpackagesCNB(t *testing.T) {
	dir := t.TempDir()
	simpleCNB := filepath.Join(dir, "simple.cnb")
	packageFile(t, "[buildpack]\nuri = \""+abs(t, "testdata/simple")+"\"\n", simpleCNB)
	cfg := &Config{Dir: dir, Buildpacks: []BuildpackConfig{{ID: "example/simple", URI: "simple.cnb"}, {URI: abs(t, "testdata/composite")}},
		Order: nil}
	must(t, ResolveBuildpackages(context.Background(), cfg, filepath.Join(dir, "scratch"), nil))
	descs, err := FetchBuildpacks(context.Background(), cfg, filepath.Join(dir, "bps"))
	if err != nil {
		t.Fatal(err)
	}
	if len(descs) != 2 || descs[0].Ref() != "example/simple@1.0.0" {
		t.Errorf("descriptors %v", descs)
	}
	bad := &Config{Dir: dir, Buildpacks: []BuildpackConfig{{ID: "example/other", URI: "simple.cnb"}}}
	if err := ResolveBuildpackages(context.Background(), bad, filepath.Join(dir, "scratch2"), nil); err == nil || !strings.Contains(err.Error(), "config says example/other") {
		t.Errorf("id mismatch: %v", err)
	}
}
