package build

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/slipway/slipway/imagestore"
	"github.com/slipway/slipway/inspect"
	"github.com/slipway/slipway/internal/e2ekit"
	"github.com/slipway/slipway/internal/testimages"
	"github.com/slipway/slipway/registry"
)

// Images a builder.toml references are pulled from their registry when they are not in the
// local store; --run-image overrides the run image and is what the label records.
func TestBaseImagesFromRegistryAndRunImageOverride(t *testing.T) {
	e := e2ekit.NewEnv(t)
	addr := e2ekit.StartRegistry(t)
	build, run := testimages.BuildAndRun(t)
	ctx := context.Background()
	ro := registry.Options{Insecure: []string{addr}}
	buildRef, runRef := addr+"/stacks/build:1", addr+"/stacks/run:1"
	if _, err := registry.Write(ctx, buildRef, build, ro); err != nil {
		t.Fatal(err)
	}
	if _, err := registry.Write(ctx, runRef, run, ro); err != nil {
		t.Fatal(err)
	}
	builderToml := filepath.Join(t.TempDir(), "builder.toml")
	e2ekit.WriteFile(t, builderToml, fmt.Sprintf(`
[[buildpacks]]
  uri = %q
[[order]]
  [[order.group]]
    id = "test/hello"
[build]
  image = %q
[[run.images]]
  image = %q
  mirrors = ["mirror.example.com/stacks/run:1"]
`, filepath.Join(e2ekit.RepoRoot, "e2e", "testdata", "buildpacks", "hello"), buildRef, runRef))

	e.MustSlipway("build", "fromreg", "--path", e2ekit.App("hello"), "--builder", builderToml, "--insecure-registry", addr)
	s, _ := imagestore.Open(e.Store)
	img, err := s.Image("fromreg")
	if err != nil {
		t.Fatal(err)
	}
	info, _ := inspect.Read(img)
	if info.RunImage.Image != runRef || len(info.RunImage.Mirrors) != 1 || !strings.HasPrefix(info.RunImage.Reference, addr+"/stacks/run@sha256:") {
		t.Errorf("run image recorded as %+v", info.RunImage)
	}

	// --run-image: the store's run image instead; the label records it, without the
	// builder's mirrors (they belong to another image).
	e.MustSlipway("build", "override", "--path", e2ekit.App("hello"), "--builder", builderToml, "--insecure-registry", addr, "--run-image", e2ekit.RunImageName)
	img, _ = s.Image("override")
	info, _ = inspect.Read(img)
	if info.RunImage.Image != e2ekit.RunImageName || len(info.RunImage.Mirrors) != 0 {
		t.Errorf("override recorded as %+v", info.RunImage)
	}

	// An unreachable registry names the image and says what to do.
	bad := filepath.Join(t.TempDir(), "builder.toml")
	e2ekit.WriteFile(t, bad, fmt.Sprintf("[[buildpacks]]\nuri = %q\n[[order]]\n[[order.group]]\nid = \"test/hello\"\n[build]\nimage = \"127.0.0.1:1/nothing/here:1\"\n[[run.images]]\nimage = %q\n",
		filepath.Join(e2ekit.RepoRoot, "e2e", "testdata", "buildpacks", "hello"), e2ekit.RunImageName))
	out, code := e.Slipway("build", "x", "--path", e2ekit.App("hello"), "--builder", bad)
	if code == 0 || !strings.Contains(out, "127.0.0.1:1/nothing/here:1") {
		t.Errorf("unreachable build image: exit %d\n%s", code, out)
	}
}

// pack's --buildpack replaces the builder's order with one group; rmi untags.
func TestBuildpackFlagAndRmi(t *testing.T) {
	e := e2ekit.NewEnv(t)
	out := e.MustSlipway("build", "flagged", "--path", e2ekit.App("procfile"), "--builder", e.Builder,
		"--buildpack", filepath.Join(e2ekit.RepoRoot, "e2e", "testdata", "buildpacks", "procfile"))
	if !strings.Contains(out, "reading Procfile") {
		t.Errorf("procfile buildpack did not run:\n%s", out)
	}
	// With only the hello buildpack in the group, the Procfile app does not detect.
	out, code := e.Slipway("build", "flagged2", "--path", e2ekit.App("procfile"), "--builder", e.Builder,
		"--buildpack", filepath.Join(e2ekit.RepoRoot, "e2e", "testdata", "buildpacks", "hello"))
	if code != 20 || strings.Contains(out, "test/procfile") {
		t.Errorf("--buildpack did not replace the order: exit %d\n%s", code, out)
	}
	e.MustSlipway("rmi", "flagged")
	if strings.Contains(e.MustSlipway("images"), "flagged") {
		t.Error("rmi left the image listed")
	}
}

// platform.md, system.toml (TOML): the builder's [system] buildpacks join every group: an optional post
// buildpack runs when it detects and is dropped when it does not.
func TestSystemBuildpacks(t *testing.T) {
	e := e2ekit.NewEnv(t)
	bps := filepath.Join(e2ekit.RepoRoot, "e2e", "testdata", "buildpacks")
	builderToml := filepath.Join(t.TempDir(), "builder.toml")
	e2ekit.WriteFile(t, builderToml, fmt.Sprintf(`
[[buildpacks]]
  uri = %q
[[buildpacks]]
  uri = %q
[[order]]
  [[order.group]]
    id = "test/hello"
[system.post]
  buildpacks = [{ id = "test/procfile", version = "1.0.0", optional = true }]
[build]
  image = %q
[[run.images]]
  image = %q
`, filepath.Join(bps, "hello"), filepath.Join(bps, "procfile"), e2ekit.BuildImageName, e2ekit.RunImageName))
	appDir := t.TempDir()
	e2ekit.WriteFile(t, filepath.Join(appDir, "hello.txt"), "System")
	e2ekit.WriteFile(t, filepath.Join(appDir, "Procfile"), "web: echo from procfile\n")
	out := e.MustSlipway("build", "sys", "--path", appDir, "--builder", builderToml)
	if !strings.Contains(out, "building greeter for System") || !strings.Contains(out, "reading Procfile") {
		t.Errorf("system post buildpack did not run after the group:\n%s", out)
	}
	out = e.MustSlipway("build", "sys2", "--path", e2ekit.App("hello"), "--builder", builderToml)
	if strings.Contains(out, "reading Procfile") {
		t.Errorf("optional system buildpack ran without a Procfile:\n%s", out)
	}
}

// buildpack.md, Phase #1: Detection (targets): a buildpack's [[targets.distros]] must match the run image's distro; a
// run image without distro labels takes the build container's os-release (docs/spec-notes.md, Target matching).
func TestTargetDistroFromOSRelease(t *testing.T) {
	e := e2ekit.NewEnv(t)
	_, run := testimages.BuildAndRun(t)
	cfg, err := run.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	delete(cfg.Config.Labels, "io.buildpacks.base.distro.name")
	delete(cfg.Config.Labels, "io.buildpacks.base.distro.version")
	unlabelled, err := mutate.ConfigFile(run, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := imagestore.Open(e.Store)
	if _, err := s.Write(context.Background(), "slipway-test/run-nolabels:1", unlabelled); err != nil {
		t.Fatal(err)
	}
	bp := func(distro string) string {
		dir := filepath.Join(t.TempDir(), distro)
		e2ekit.WriteFile(t, filepath.Join(dir, "buildpack.toml"), fmt.Sprintf(`api = "0.12"
[buildpack]
id = "test/%s-only"
version = "1.0.0"
[[targets]]
os = "linux"
[[targets.distros]]
name = %q
`, distro, distro))
		e2ekit.WriteFile(t, filepath.Join(dir, "bin", "detect"), "#!/bin/bash\necho \"distro $CNB_TARGET_DISTRO_NAME $CNB_TARGET_DISTRO_VERSION\"\n")
		e2ekit.WriteFile(t, filepath.Join(dir, "bin", "build"), "#!/bin/bash\necho \"built on $CNB_TARGET_DISTRO_NAME $CNB_TARGET_DISTRO_VERSION\"\n")
		os.Chmod(filepath.Join(dir, "bin", "detect"), 0o755)
		os.Chmod(filepath.Join(dir, "bin", "build"), 0o755)
		return dir
	}
	out := e.MustSlipway("build", "deb", "--path", e2ekit.App("hello"), "--builder", e.Builder,
		"--run-image", "slipway-test/run-nolabels:1", "--buildpack", bp("debian"))
	if !strings.Contains(out, "built on debian 12") {
		t.Errorf("debian buildpack on an unlabelled Debian run image:\n%s", out)
	}
	out, code := e.Slipway("build", "ubu", "--path", e2ekit.App("hello"), "--builder", e.Builder,
		"--run-image", "slipway-test/run-nolabels:1", "--buildpack", bp("ubuntu"))
	if code != 21 || !strings.Contains(out, "test/ubuntu-only") {
		t.Errorf("ubuntu-only buildpack: exit %d, want 21 (target mismatch)\n%s", code, out)
	}
}
