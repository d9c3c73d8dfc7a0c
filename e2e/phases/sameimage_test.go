package phases

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/slipway/slipway/internal/e2ekit"
	"github.com/slipway/slipway/registry"
)

// One flow: for the same app and buildpacks, `slipway build`, the five phase commands run in
// sequence (platform.md, Operations: Build) and the creator produce the same image, byte for
// byte (same digest): they run the same lifecycle code, and images are reproducible
// (platform.md, Build Reproducibility).
func TestSameImageThreeWays(t *testing.T) {
	r := newPhaseRig(t)
	e := e2ekit.NewEnv(t)
	ctx := context.Background()
	digestOf := func(ref string) string {
		t.Helper()
		img, err := registry.Image(ctx, ref, r.ro)
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d.String()
	}
	cnb := []string{"CNB_USER_ID=1000", "CNB_GROUP_ID=1000"}

	// Five phases, a fresh layers volume, no cache.
	five := r.addr + "/apps/same:phases"
	layers := r.dir("layers-phases")
	r.phase(false, "analyzer", nil, "-layers", layers, "-run", r.run, "-insecure-registry", r.addr, five)
	r.phase(false, "detector", nil, "-layers", layers, "-app", r.app, "-platform", r.platformDir, "-buildpacks", r.buildpacks, "-order", r.order)
	r.phase(false, "restorer", nil, "-layers", layers)
	r.phase(false, "builder", nil, "-layers", layers, "-app", r.app, "-platform", r.platformDir, "-buildpacks", r.buildpacks)
	r.phase(true, "exporter", cnb, "-layers", layers, "-app", r.app, "-launcher", r.launcher, "-insecure-registry", r.addr, five)

	// The creator on a fresh app copy and layers volume.
	creator := r.addr + "/apps/same:creator"
	app2 := r.dir("app-creator")
	r.copyApp(app2)
	r.phase(false, "creator", cnb, "-app", app2, "-layers", r.dir("layers-creator"), "-platform", r.platformDir,
		"-buildpacks", r.buildpacks, "-order", r.order, "-run", r.run, "-launcher", r.launcher, "-insecure-registry", r.addr, creator)

	// slipway build with a builder.toml naming the same buildpacks, order and run image.
	built := r.addr + "/apps/same:build"
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
    version = "1.0.0"
  [[order.group]]
    id = "test/layers"
    version = "1.0.0"
[build]
  image = %q
[[run.images]]
  image = %q
`, filepath.Join(bps, "hello"), filepath.Join(bps, "layers"), e2ekit.BuildImageName, r.addr+"/stacks/run:1"))
	app3 := r.dir("app-build")
	r.copyApp(app3)
	e.MustSlipway("build", built, "--path", app3, "--builder", builderToml, "--publish", "--insecure-registry", r.addr)

	a, b, c := digestOf(five), digestOf(creator), digestOf(built)
	if a != b || a != c {
		t.Errorf("same app, same buildpacks, different images:\n  five phases   %s\n  creator       %s\n  slipway build %s", a, b, c)
	}
}

// copyApp copies the rig's app into dir, owned by the CNB user.
func (r *phaseRig) copyApp(dir string) {
	r.t.Helper()
	for _, f := range []string{"hello.txt", "layers.txt"} {
		e2ekit.WriteFile(r.t, filepath.Join(dir, f), readFileString(r.t, filepath.Join(r.app, f)))
	}
	r.chownCNB(dir)
}

func readFileString(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
