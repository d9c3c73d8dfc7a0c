package phases

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/slipway/slipway/internal/e2ekit"
	"github.com/slipway/slipway/lifecycle"
	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/registry"
)

// One flow: for the same app and buildpacks, the five phase commands run in sequence
// (platform.md, Operations: Build) and the creator, given the same -app and -layers, produce
// the same image byte for byte (same digest): they run the same lifecycle code, and images
// are reproducible (platform.md, Build Reproducibility). `slipway build` builds at
// /workspace and /layers, where its sandbox mounts them, while the phases put the app and
// layers where their -app and -layers were (platform.md, exporter): its image is the same
// but for those paths — the same layers, file for file, under the other directories, and the
// same config but for the working directory and CNB_APP_DIR / CNB_LAYERS_DIR.
func TestSameImageThreeWays(t *testing.T) {
	r := newPhaseRig(t)
	e := e2ekit.NewEnv(t)
	ctx := context.Background()
	image := func(ref string) v1.Image {
		t.Helper()
		img, err := registry.Image(ctx, ref, r.ro)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	digestOf := func(ref string) string {
		t.Helper()
		d, err := image(ref).Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d.String()
	}
	cnb := []string{"CNB_USER_ID=1000", "CNB_GROUP_ID=1000"}
	pristine := r.dir("app-pristine")
	r.copyApp(pristine)
	app, layers := filepath.Join(r.root, "app"), filepath.Join(r.root, "layers")
	// fresh gives both runs the same paths with nothing left over: a new app copy and an
	// empty layers volume.
	fresh := func() {
		t.Helper()
		for _, d := range []string{app, layers} {
			if err := os.RemoveAll(d); err != nil {
				t.Fatal(err)
			}
		}
		r.dir("layers")
		r.dir("app")
		r.copyAppFrom(pristine, app)
	}

	// Five phases, no cache.
	fresh()
	five := r.addr + "/apps/same:phases"
	r.phase(false, "analyzer", nil, "-layers", layers, "-run", r.run, "-insecure-registry", r.addr, five)
	r.phase(false, "detector", nil, "-layers", layers, "-app", app, "-platform", r.platformDir, "-buildpacks", r.buildpacks, "-order", r.order)
	r.phase(false, "restorer", nil, "-layers", layers)
	r.phase(false, "builder", nil, "-layers", layers, "-app", app, "-platform", r.platformDir, "-buildpacks", r.buildpacks)
	r.phase(true, "exporter", cnb, "-layers", layers, "-app", app, "-launcher", r.launcher, "-insecure-registry", r.addr, five)

	// The creator, same paths.
	fresh()
	creator := r.addr + "/apps/same:creator"
	r.phase(false, "creator", cnb, "-app", app, "-layers", layers, "-platform", r.platformDir,
		"-buildpacks", r.buildpacks, "-order", r.order, "-run", r.run, "-launcher", r.launcher, "-insecure-registry", r.addr, creator)
	if a, b := digestOf(five), digestOf(creator); a != b {
		t.Errorf("same app, same buildpacks, same dirs, different images:\n  five phases %s\n  creator     %s", a, b)
	}

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

	phases, ours := image(five), image(built)
	pc, oc := configSansDirs(t, phases, app, layers), configSansDirs(t, ours, platform.AppDir, platform.LayersDir)
	if pc != oc {
		t.Errorf("the phases' and slipway build's configs differ beyond the app and layers dirs:\n%s\nvs\n%s", pc, oc)
	}
	pl, ol := layerFiles(t, phases, app, layers), layerFiles(t, ours, platform.AppDir, platform.LayersDir)
	if len(pl) != len(ol) {
		t.Fatalf("the phases' image has %d layers, slipway build's %d", len(pl), len(ol))
	}
	for i := range pl {
		if !slices.Equal(pl[i], ol[i]) {
			t.Errorf("layer %d differs beyond the app and layers dirs:\n  phases: %v\n  build:  %v", i, pl[i], ol[i])
		}
	}
	// The check above sees the paths: the phases' app is where -app was.
	if !slices.ContainsFunc(slices.Concat(pl...), func(s string) bool { return strings.HasPrefix(s, "<app>/hello.txt ") }) {
		t.Errorf("no <app>/hello.txt among the phases' layers")
	}
}

// configSansDirs is img's config with the working directory, CNB_APP_DIR and CNB_LAYERS_DIR
// checked against app and layers and then blanked, and the lifecycle metadata label (which
// holds layer digests) dropped: what two builds at different paths must share.
func configSansDirs(t *testing.T, img v1.Image, app, layers string) string {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.DeepCopy()
	if c.Config.WorkingDir != app {
		t.Errorf("WorkingDir %q, want the app dir %s", c.Config.WorkingDir, app)
	}
	c.Config.WorkingDir = ""
	for i, kv := range c.Config.Env {
		switch kv {
		case "CNB_APP_DIR=" + app, "CNB_LAYERS_DIR=" + layers:
			c.Config.Env[i] = kv[:strings.Index(kv, "=")+1]
		}
	}
	delete(c.Config.Labels, platform.LabelLifecycleMetadata)
	c.RootFS.DiffIDs = nil
	return fmt.Sprintf("%+v", *c)
}

// layerFiles lists, per layer above the run image, every entry as "path type mode uid:gid
// size link sha256", with the app dir written <app> and the layers dir <layers>; the
// directories above them (the phases' temporary parents) are left out. A run image layer is
// listed by its diffID.
func layerFiles(t *testing.T, img v1.Image, app, layers string) [][]string {
	t.Helper()
	md, err := lifecycle.ReadLayersMetadata(img)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	base := slices.IndexFunc(cf.RootFS.DiffIDs, func(h v1.Hash) bool { return h.String() == md.RunImage.TopLayer }) + 1
	if base == 0 {
		t.Fatalf("runImage.topLayer %s is not a layer of the image", md.RunImage.TopLayer)
	}
	app, layers = strings.TrimPrefix(app, "/"), strings.TrimPrefix(layers, "/")
	rename := func(n string) (string, bool) {
		n = strings.TrimSuffix(n, "/")
		for _, d := range []struct{ dir, as string }{{app, "<app>"}, {layers, "<layers>"}} {
			if n == d.dir || strings.HasPrefix(n, d.dir+"/") {
				return d.as + strings.TrimPrefix(n, d.dir), true
			}
			if strings.HasPrefix(d.dir, n+"/") {
				return "", false
			}
		}
		return n, true
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]string, len(ls))
	for i, l := range ls {
		if i < base {
			out[i] = []string{cf.RootFS.DiffIDs[i].String()}
			continue
		}
		one, err := mutate.AppendLayers(empty.Image, l)
		if err != nil {
			t.Fatal(err)
		}
		e2ekit.WalkImage(t, one, func(h *tar.Header, r io.Reader) {
			n, keep := rename(h.Name)
			if !keep {
				return
			}
			sum := sha256.New()
			io.Copy(sum, r)
			out[i] = append(out[i], fmt.Sprintf("%s %c %o %d:%d %d %s %x", n, h.Typeflag, h.Mode, h.Uid, h.Gid, h.Size, h.Linkname, sum.Sum(nil)))
		})
	}
	return out
}

// copyApp copies the rig's app into dir, owned by the CNB user.
func (r *phaseRig) copyApp(dir string) { r.copyAppFrom(r.app, dir) }

// copyAppFrom copies the app in src into dir, owned by the CNB user.
func (r *phaseRig) copyAppFrom(src, dir string) {
	r.t.Helper()
	for _, f := range []string{"hello.txt", "layers.txt"} {
		e2ekit.WriteFile(r.t, filepath.Join(dir, f), readFileString(r.t, filepath.Join(src, f)))
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
