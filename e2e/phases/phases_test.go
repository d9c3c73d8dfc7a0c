package phases

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/slipway/slipway/internal/e2ekit"
	"github.com/slipway/slipway/internal/testimages"
	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/registry"
	"github.com/slipway/slipway/tomlfile"
)

// phaseRig is a platform's view of a builder: buildpacks, order.toml, run.toml, the app and
// /cnb/lifecycle/<phase> links to the slipway binary, plus a registry holding the run image.
type phaseRig struct {
	t                                  *testing.T
	root, buildpacks, app, platformDir string
	order, run, lifecycle, launcher    string
	addr                               string
	ro                                 registry.Options
}

func newPhaseRig(t *testing.T) *phaseRig {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root to switch to the CNB user with setpriv")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv (util-linux) not installed")
	}
	addr := e2ekit.StartRegistry(t)
	// Not t.TempDir(): its parent is private to root, and the phases run as uid 1000.
	root, err := os.MkdirTemp("", "slipway-phases-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	os.Chmod(root, 0o755)
	r := &phaseRig{t: t, root: root, buildpacks: filepath.Join(root, "buildpacks"), app: filepath.Join(root, "workspace"),
		platformDir: filepath.Join(root, "platform"), order: filepath.Join(root, "order.toml"), run: filepath.Join(root, "run.toml"),
		lifecycle: filepath.Join(root, "lifecycle"), launcher: filepath.Join(e2ekit.RepoRoot, "internal", "launcherbin", "launcher"),
		addr: addr, ro: registry.Options{Insecure: []string{addr}}}
	for _, d := range []string{r.buildpacks, r.app, filepath.Join(r.platformDir, "env"), r.lifecycle} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, bp := range []string{"hello", "layers"} {
		dst := filepath.Join(r.buildpacks, "test_"+bp, "1.0.0")
		os.MkdirAll(filepath.Dir(dst), 0o755)
		if out, err := exec.Command("cp", "-r", filepath.Join(e2ekit.RepoRoot, "e2e", "testdata", "buildpacks", bp), dst).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v %s", err, out)
		}
	}
	e2ekit.WriteFile(t, filepath.Join(r.app, "hello.txt"), "Phases")
	e2ekit.WriteFile(t, filepath.Join(r.app, "layers.txt"), "one")
	r.chownCNB(r.app)
	e2ekit.WriteFile(t, r.order, "[[order]]\n[[order.group]]\nid = \"test/hello\"\nversion = \"1.0.0\"\n[[order.group]]\nid = \"test/layers\"\nversion = \"1.0.0\"\n")
	for _, phase := range []string{"analyzer", "detector", "restorer", "builder", "exporter", "creator"} {
		if err := os.Symlink(e2ekit.SlipwayBin, filepath.Join(r.lifecycle, phase)); err != nil {
			t.Fatal(err)
		}
	}
	_, runImg := testimages.BuildAndRun(t)
	if _, err := registry.Write(context.Background(), addr+"/stacks/run:1", runImg, r.ro); err != nil {
		t.Fatal(err)
	}
	e2ekit.WriteFile(t, r.run, fmt.Sprintf("[[images]]\nimage = %q\n", addr+"/stacks/run:1"))
	return r
}

// dir makes a directory owned by the CNB user (uid 1000), as a platform's volumes would be.
func (r *phaseRig) dir(name string) string {
	d := filepath.Join(r.root, name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		r.t.Fatal(err)
	}
	r.chownCNB(d)
	return d
}

func (r *phaseRig) chownCNB(p string) {
	if out, err := exec.Command("chown", "-R", "1000:1000", p).CombinedOutput(); err != nil {
		r.t.Fatalf("chown %s: %v %s", p, err, out)
	}
}

// phase runs /cnb/lifecycle/<phase> as the CNB user (asRoot false) or as root.
func (r *phaseRig) phase(asRoot bool, phase string, env []string, args ...string) string {
	r.t.Helper()
	argv := append([]string{filepath.Join(r.lifecycle, phase)}, args...)
	if !asRoot {
		argv = append([]string{"setpriv", "--reuid=1000", "--regid=1000", "--clear-groups"}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "CNB_PLATFORM_API=0.15", "HOME=/tmp"}, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("%s: %v\n%s", phase, err, out)
	}
	return string(out)
}

// The five-phase flow a platform such as kpack or Tekton runs, one container per phase
// (platform.md, Operations: Build): analyzer → detector → restorer → builder → exporter, by argv0, with a
// volume cache. Built twice: the second analyzer finds the first image (platform.md, analyzer), and the
// restorer brings back cache=true layers from the cache and launch-only layer metadata and
// store.toml from the image (platform.md, restorer; buildpack.md, Layer Types).
func TestFivePhaseFlowRestoresFromCacheAndPreviousImage(t *testing.T) {
	r := newPhaseRig(t)
	cacheDir := r.dir("cache")
	image := r.addr + "/apps/five:latest"
	var firstDigest string
	for run := 1; run <= 2; run++ {
		layers := r.dir(fmt.Sprintf("layers-%d", run)) // a fresh volume: nothing left over
		common := []string{"-layers", layers}
		// platform.md, analyzer: a reference to an image that does not exist yet is accepted.
		out := r.phase(false, "analyzer", nil, append(common, "-run", r.run,
			"-insecure-registry", r.addr, "-tag", r.addr+"/apps/five:run", image)...)
		var analyzed struct {
			Image    *platform.ImageIdentifier `toml:"image"`
			Metadata map[string]any            `toml:"metadata"`
			RunImage *platform.AnalyzedRun     `toml:"run-image"`
		}
		if err := tomlfile.Read(filepath.Join(layers, "analyzed.toml"), &analyzed); err != nil {
			t.Fatal(err)
		}
		ri := analyzed.RunImage
		if ri == nil || !strings.HasPrefix(ri.Reference, r.addr+"/stacks/run@sha256:") || ri.Image != r.addr+"/stacks/run:1" ||
			ri.Target == nil || ri.Target.OS != "linux" || ri.Target.Arch == "" {
			t.Fatalf("run %d: analyzed.toml [run-image] = %+v", run, ri)
		}
		switch run {
		case 1:
			if analyzed.Image != nil || !strings.Contains(out, "No previous image") {
				t.Fatalf("run 1: previous image %+v in analyzed.toml\n%s", analyzed.Image, out)
			}
		case 2:
			want := r.addr + "/apps/five@" + firstDigest
			if analyzed.Image == nil || analyzed.Image.Reference != want || analyzed.Metadata["buildpacks"] == nil {
				t.Fatalf("run 2: analyzed.toml [image] = %+v (want %s), metadata %v", analyzed.Image, want, analyzed.Metadata)
			}
		}
		r.phase(false, "detector", nil, append(common, "-app", r.app, "-platform", r.platformDir,
			"-buildpacks", r.buildpacks, "-order", r.order)...)
		out = r.phase(false, "restorer", nil, append(common, "-cache-dir", cacheDir)...)
		bpLayers := filepath.Join(layers, "test_layers")
		if run == 2 {
			// buildpack.md, Layer Types: cache=true → metadata and contents from the cache; launch only →
			// metadata from the image, no contents; store.toml from the image (platform.md, Layer Restoration).
			for _, c := range []struct{ file string }{{"l-TTT.toml"}, {"l-TTT/file"}, {"l-FTF.toml"}, {"l-FTF/file"}, {"l-FFT.toml"}, {"store.toml"}} {
				if _, err := os.Stat(filepath.Join(bpLayers, c.file)); err != nil {
					t.Errorf("run 2: restorer did not restore %s: %v\n%s", c.file, err, out)
				}
			}
			if _, err := os.Stat(filepath.Join(bpLayers, "l-FFT")); err == nil {
				t.Errorf("run 2: launch-only layer l-FFT got contents; only its metadata is restored")
			}
		}
		out = r.phase(false, "builder", nil, append(common, "-app", r.app, "-platform", r.platformDir, "-buildpacks", r.buildpacks)...)
		if run == 2 {
			for _, want := range []string{"seen l-TTT toml=yes meta=yes content=yes", "seen l-FTT toml=yes meta=yes content=yes",
				"seen l-FFT toml=yes meta=yes content=no", "seen l-TFT toml=no", "seen store [metadata]"} {
				if !strings.Contains(out, want) {
					t.Errorf("run 2: builder output lacks %q:\n%s", want, out)
				}
			}
		}
		// The exporter runs as root (it may, platform.md, Build Image) and hands the cache back to the CNB user.
		r.phase(true, "exporter", []string{"CNB_USER_ID=1000", "CNB_GROUP_ID=1000"}, append(common, "-app", r.app,
			"-launcher", r.launcher, "-cache-dir", cacheDir, "-insecure-registry", r.addr, image)...)
		var report platform.Report
		if err := tomlfile.Read(filepath.Join(layers, "report.toml"), &report); err != nil {
			t.Fatal(err)
		}
		firstDigest = report.Image.Digest
		img, err := registry.Image(context.Background(), image, r.ro)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate.Image(img); err != nil {
			t.Fatalf("run %d: validate.Image: %v", run, err)
		}
		if _, err := os.Stat(filepath.Join(cacheDir, "committed", "io.buildpacks.lifecycle.cache.metadata")); err != nil {
			t.Fatalf("run %d: exporter wrote no cache: %v", run, err)
		}
	}
}

// The creator alone (platform.md, Operations: Build): analyze, detect, restore, build and export with the
// cache in one process, as the CNB user; the second build restores from the cache.
func TestCreatorBuildsAndPublishes(t *testing.T) {
	r := newPhaseRig(t)
	cacheDir := r.dir("cache")
	image := r.addr + "/apps/created:1"
	env := []string{"CNB_USER_ID=1000", "CNB_GROUP_ID=1000"}
	for run := 1; run <= 2; run++ {
		layers := r.dir(fmt.Sprintf("layers-%d", run))
		out := r.phase(false, "creator", env, "-app", r.app, "-layers", layers, "-platform", r.platformDir,
			"-buildpacks", r.buildpacks, "-order", r.order, "-run", r.run, "-cache-dir", cacheDir,
			"-launcher", r.launcher, "-insecure-registry", r.addr, "-tag", r.addr+"/apps/created:latest", image)
		for _, tag := range []string{"1", "latest"} {
			img, err := registry.Image(context.Background(), r.addr+"/apps/created:"+tag, r.ro)
			if err != nil {
				t.Fatalf("run %d: %v\n%s", run, err, out)
			}
			if err := validate.Image(img); err != nil {
				t.Fatalf("run %d: validate.Image: %v", run, err)
			}
			cfg, _ := img.ConfigFile()
			if len(cfg.Config.Entrypoint) != 1 || cfg.Config.Entrypoint[0] != "/cnb/process/web" {
				t.Errorf("run %d: entrypoint %v", run, cfg.Config.Entrypoint)
			}
		}
		if run == 2 && !strings.Contains(out, "seen l-TTT toml=yes meta=yes content=yes") {
			t.Errorf("run 2: the creator did not restore the cache:\n%s", out)
		}
	}
}

// platform.md, Build Image: the creator runs buildpacks in its own process and cannot drop
// privileges, so as root it refuses unless CNB_USER_ID says root on purpose.
func TestCreatorRefusesRoot(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root")
	}
	cmd := exec.Command(e2ekit.SlipwayBin, "lifecycle", "creator", "example.com/app")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "CNB_PLATFORM_API=0.15", "CNB_USER_ID=1000", "CNB_GROUP_ID=1000"}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "refusing to run as root") {
		t.Fatalf("err %v:\n%s", err, out)
	}
}
