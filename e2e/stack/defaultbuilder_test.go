package stack

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/slipway/slipway/imagestore"
	"github.com/slipway/slipway/internal/e2ekit"
)

// Issue 4 item 5: on a machine that has never run slipway, `slipway build NAME --path DIR`
// with no builder makes the default stack from Debian packages and the default builder
// from the embedded buildpacks, keeps them in the store, and builds; `slipway config
// default-builder` switches to another builder.
func TestZeroConfigDefaultBuilder(t *testing.T) {
	e, debs := e2ekit.StackEnv(t)
	// Share the .deb download cache with the stack tests (the packages are verified by
	// SHA256 on every use, so sharing is safe).
	if err := os.MkdirAll(filepath.Join(e.Work, "slipway"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(debs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(debs, filepath.Join(e.Work, "slipway", "debs")); err != nil {
		t.Fatal(err)
	}
	out := e.MustSlipway("build", "proc", "--path", e2ekit.App("procfile"))
	for _, want := range []string{"Making the default builder", "Building the default stack", "slipway/procfile 0.1.0", "Successfully built image proc"} {
		if !strings.Contains(out, want) {
			t.Errorf("first build output lacks %q:\n%s", want, out)
		}
	}
	images := e.MustSlipway("images")
	for _, want := range []string{"slipway/default-builder:", "slipway/run:bookworm", "slipway/build:bookworm"} {
		if !strings.Contains(images, want) {
			t.Errorf("images lacks %s:\n%s", want, images)
		}
	}
	// Second build: the default builder is reused, not made again.
	if out := e.MustSlipway("build", "proc", "--path", e2ekit.App("procfile")); strings.Contains(out, "Making the default builder") {
		t.Errorf("default builder made twice:\n%s", out)
	}
	archive := filepath.Join(t.TempDir(), "proc.tar")
	e.MustSlipway("save", "proc", "-o", archive)
	if got := e2ekit.PodmanRun(t, archive, "localhost/proc"); !strings.Contains(got, "procfile web on port 8080") {
		t.Errorf("default-builder image printed %q", got)
	}

	// A no-group-passed build with the default builder explains itself.
	out, code := e.Slipway("build", "none", "--path", e2ekit.App("none"))
	if code != 20 || !strings.Contains(out, "slipway/nodejs") {
		t.Errorf("exit %d, want 20 with the nodejs buildpack's reason:\n%s", code, out)
	}

	// `slipway config default-builder` points builds without --builder elsewhere.
	builderToml := e2ekit.StackBuilder(t, "slipway/build:bookworm", "slipway/run:bookworm")
	e.MustSlipway("config", "default-builder", builderToml)
	if got := strings.TrimSpace(e.MustSlipway("config", "default-builder")); got != builderToml {
		t.Errorf("config default-builder = %q", got)
	}
	out = e.MustSlipway("build", "hello", "--path", e2ekit.App("hello"))
	if !strings.Contains(out, "test/hello") {
		t.Errorf("configured default builder not used:\n%s", out)
	}
	e.MustSlipway("config", "default-builder", "--unset")
}

// `slipway build --builder IMAGE` runs on a builder image made by `slipway builder create`
// (its rootfs is the sandbox), and --buildpack takes a .cnb buildpackage.
func TestBuildWithBuilderImageAndCNB(t *testing.T) {
	e := e2ekit.NewEnv(t)
	e.MustSlipway("builder", "create", "my-builder", "--config", e.Builder)
	out := e.MustSlipway("build", "viaimage", "--path", e2ekit.App("hello"), "--builder", "my-builder")
	if !strings.Contains(out, "building greeter for World") {
		t.Errorf("build on builder image:\n%s", out)
	}
	archive := filepath.Join(t.TempDir(), "viaimage.tar")
	e.MustSlipway("save", "viaimage", "-o", archive)
	if got := e2ekit.PodmanRun(t, archive, "localhost/viaimage"); !strings.Contains(got, "Hello, World!") {
		t.Errorf("image built on builder image printed %q", got)
	}
	// Same inputs on the builder image as on the builder.toml: the same layers.
	e.MustSlipway("build", "viatoml", "--path", e2ekit.App("hello"), "--builder", e.Builder)
	s, err := imagestore.Open(e.Store)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := e2ekit.DiffIDs(t, s, "viaimage"), e2ekit.DiffIDs(t, s, "viatoml"); !slices.Equal(a, b) {
		t.Errorf("layers on the builder image %v differ from those on the builder.toml %v", a, b)
	}

	pkgToml := filepath.Join(t.TempDir(), "package.toml")
	e2ekit.WriteFile(t, pkgToml, fmt.Sprintf("[buildpack]\nuri = %q\n", filepath.Join(e2ekit.RepoRoot, "e2e", "testdata", "buildpacks", "procfile")))
	cnb := filepath.Join(t.TempDir(), "procfile.cnb")
	e.MustSlipway("buildpack", "package", cnb, "--config", pkgToml, "--format", "file")
	out = e.MustSlipway("build", "fromcnb", "--path", e2ekit.App("procfile"), "--builder", "my-builder", "--buildpack", cnb)
	if !strings.Contains(out, "reading Procfile") {
		t.Errorf("--buildpack .cnb did not run:\n%s", out)
	}
}
