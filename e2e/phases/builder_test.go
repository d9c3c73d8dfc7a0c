package phases

import (
	"archive/tar"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/slipway/slipway/builder"
	"github.com/slipway/slipway/imagestore"
	"github.com/slipway/slipway/internal/e2ekit"
	"github.com/slipway/slipway/platform"
)

// docs/spec-notes.md, Builder image; docs/spec-notes.md, Builder labels: `slipway builder create` writes a builder image on the test build
// image with the fixture buildpacks; `builder inspect` reads its labels back, and the image
// holds slipway as /cnb/lifecycle.
func TestBuilderCreateInspect(t *testing.T) {
	e := e2ekit.NewEnv(t)
	out := e.MustSlipway("builder", "create", "my-builder", "--config", e.Builder)
	if !strings.Contains(out, "Successfully created builder image my-builder") {
		t.Errorf("create output:\n%s", out)
	}

	js := e.MustSlipway("builder", "inspect", "my-builder", "--output", "json")
	var info builder.Info
	if err := json.Unmarshal([]byte(js), &info); err != nil {
		t.Fatalf("inspect json: %v\n%s", err, js)
	}
	if info.CreatedBy.Name != "Slipway" || info.Description != "slipway e2e builder" {
		t.Errorf("createdBy %+v description %q", info.CreatedBy, info.Description)
	}
	if len(info.RunImages) != 1 || info.RunImages[0].Image != e2ekit.RunImageName {
		t.Errorf("run images %+v", info.RunImages)
	}
	if len(info.Buildpacks) != 2 || info.Buildpacks[0].ID != "test/hello" || info.Buildpacks[1].ID != "test/procfile" {
		t.Errorf("buildpacks %+v", info.Buildpacks)
	}
	if len(info.Order) != 2 || info.Order[0].Group[0].Ref() != "test/hello@1.0.0" {
		t.Errorf("order %+v", info.Order)
	}
	human := e.MustSlipway("builder", "inspect", "my-builder")
	for _, want := range []string{"Detection order:", "test/procfile@1.0.0", e2ekit.RunImageName} {
		if !strings.Contains(human, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, human)
		}
	}

	s, err := imagestore.Open(e.Store)
	if err != nil {
		t.Fatal(err)
	}
	img, err := s.Image("my-builder")
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Fatalf("validate.Image: %v", err)
	}
	cf, _ := img.ConfigFile()
	for _, l := range []string{platform.LabelBuilderMetadata, platform.LabelBuildpackOrder, platform.LabelBuildpackLayers, "io.buildpacks.base.distro.name"} {
		if cf.Config.Labels[l] == "" {
			t.Errorf("label %s missing", l)
		}
	}
	if cf.Config.WorkingDir != "/layers" {
		t.Errorf("WorkingDir %q", cf.Config.WorkingDir)
	}

	// The flattened filesystem has the lifecycle and the buildpacks.
	want := map[string]byte{
		"cnb/lifecycle/detector":                    tar.TypeSymlink,
		"cnb/lifecycle/builder":                     tar.TypeSymlink,
		"cnb/lifecycle/lifecycle":                   tar.TypeReg,
		"cnb/lifecycle/launcher":                    tar.TypeReg,
		"cnb/order.toml":                            tar.TypeReg,
		"cnb/buildpacks/test_hello/1.0.0/bin/build": tar.TypeReg,
		"usr/bin/bash":                              tar.TypeReg, // the build image's files are kept
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(h.Name, "/"), "/")
		if typ, ok := want[name]; ok && typ == h.Typeflag {
			delete(want, name)
		}
	}
	for n := range want {
		t.Errorf("builder filesystem lacks %s", n)
	}

	// The lead's `build --builder IMAGE` path: the buildpacks come back out of the image.
	dest := filepath.Join(t.TempDir(), "buildpacks")
	cfg, err := builder.FromImage(context.Background(), img, dest)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Buildpacks) != 2 || cfg.Run.Images[0].Image != e2ekit.RunImageName {
		t.Errorf("FromImage config %+v", cfg)
	}
	if _, err := os.Stat(filepath.Join(dest, "test_procfile", "1.0.0", "bin", "detect")); err != nil {
		t.Error(err)
	}
}

// distribution.md, Buildpackage: `slipway buildpack package --format file` writes a .cnb, an
// uncompressed tar of an OCI layout that go-containerregistry's layout reader opens.
func TestBuildpackPackageCNB(t *testing.T) {
	e := e2ekit.EmptyEnv(t)
	dir := t.TempDir()
	pkg := filepath.Join(dir, "package.toml")
	e2ekit.WriteFile(t, pkg, "[buildpack]\nuri = \""+filepath.Join(e2ekit.RepoRoot, "e2e", "testdata", "buildpacks", "hello")+"\"\n")
	cnb := filepath.Join(dir, "hello.cnb")
	e.MustSlipway("buildpack", "package", cnb, "--config", pkg, "--format", "file")

	unpacked := filepath.Join(dir, "unpacked")
	e2ekit.Untar(t, cnb, unpacked)
	lp, err := layout.FromPath(unpacked)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) != 1 {
		t.Fatalf("index %+v %v", im, err)
	}
	img, err := lp.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Fatalf("validate.Image: %v", err)
	}
	cf, _ := img.ConfigFile()
	if got := cf.Config.Labels[platform.LabelBuildpackageMetadata]; !strings.Contains(got, `"id":"test/hello","version":"1.0.0"`) {
		t.Errorf("buildpackage metadata %q", got)
	}
	layers, _ := img.Layers()
	if len(layers) != 1 {
		t.Errorf("%d layers, want one per buildpack", len(layers))
	}

	// --format image stores the same buildpackage in the local store.
	e.MustSlipway("buildpack", "package", "hello-bp", "--config", pkg)
	s, err := imagestore.Open(e.Store)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := s.Image("hello-bp")
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := stored.Digest()
	d2, _ := img.Digest()
	if d1 != d2 {
		t.Errorf("image %s and .cnb %s differ; packaging is reproducible", d1, d2)
	}
	descs, err := builder.LayoutBuildpackage(context.Background(), stored, t.TempDir())
	if err != nil || len(descs) != 1 || descs[0].Ref() != "test/hello@1.0.0" {
		t.Errorf("LayoutBuildpackage = %v, %v", descs, err)
	}
}
