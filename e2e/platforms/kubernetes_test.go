package platforms

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/slipway/slipway/internal/e2ekit"
	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/registry"
	"github.com/slipway/slipway/tomlfile"
)

// taskStep is one container of a Kubernetes build: the builder image's /cnb/lifecycle/<phase>
// (or a shell script) with its arguments, environment and volumes, as the task defines it.
type taskStep struct {
	name, entrypoint string
	args, env        []string
	// mounts are volume name → path in the container.
	mounts map[string]string
}

// pod is the volumes of one build: host directories owned by the CNB user, as a prepare
// step (Tekton) or fsGroup (kpack) leaves them.
type pod struct {
	r       *rig
	volumes map[string]string
}

func (r *rig) newPod(t *testing.T, names ...string) *pod {
	t.Helper()
	// Not t.TempDir(): its parent is private to root and the steps run as the CNB user.
	root, err := os.MkdirTemp("", "slipway-pod-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	os.Chmod(root, 0o755)
	p := &pod{r: r, volumes: map[string]string{}}
	for _, n := range names {
		p.volumes[n] = filepath.Join(root, n)
		if err := os.MkdirAll(p.volumes[n], 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// chown gives the volumes to the builder's CNB user (1000:1000), as Tekton's prepare step
// (chown -R) and kpack's fsGroup do.
func (p *pod) chown(t *testing.T) {
	t.Helper()
	for _, d := range p.volumes {
		if err := filepathWalkChown(d, 1000, 1000); err != nil {
			t.Fatal(err)
		}
	}
}

func filepathWalkChown(root string, uid, gid int) error {
	return filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// run runs step as a podman container of the builder image, as the image's user (both
// Tekton's steps and kpack's pod run as the builder's CNB user), on the host network
// (the registry listens on 127.0.0.1).
func (p *pod) run(t *testing.T, step taskStep) string {
	t.Helper()
	args := []string{"run", "--rm", "--network", "host", "--entrypoint", step.entrypoint}
	for _, e := range step.env {
		args = append(args, "-e", e)
	}
	for vol, path := range step.mounts {
		args = append(args, "-v", p.volumes[vol]+":"+path)
	}
	args = append(append(args, p.r.builder), step.args...)
	out := p.r.podmanCmd(t, args...)
	t.Logf("%s:\n%s", step.name, out)
	return out
}

// readReport reads report.toml from a volume and checks the digest it records is the one
// the registry serves for image.
func (p *pod) readReport(t *testing.T, vol, image string) string {
	t.Helper()
	var rep platform.Report
	if err := tomlfile.Read(filepath.Join(p.volumes[vol], "report.toml"), &rep); err != nil {
		t.Fatal(err)
	}
	img, err := registry.Image(context.Background(), image, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Fatalf("validate.Image: %v", err)
	}
	d, _ := img.Digest()
	if rep.Image.Digest != d.String() {
		t.Errorf("report.toml says %s, the registry serves %s for %s", rep.Image.Digest, d, image)
	}
	return d.String()
}

func copyApp(t *testing.T, src, dst string) {
	t.Helper()
	for _, f := range []string{"hello.txt", "layers.txt"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		e2ekit.WriteFile(t, filepath.Join(dst, f), string(b))
	}
}

// dockerConfig writes the registry credentials a Kubernetes secret would give the steps
// that talk to registries ($HOME/.docker/config.json).
func dockerConfig(t *testing.T, home, reg string) {
	t.Helper()
	e2ekit.WriteFile(t, filepath.Join(home, ".docker", "config.json"),
		fmt.Sprintf(`{"auths":{%q:{"auth":"dXNlcjpwYXNz"}}}`, reg))
}

// Issue 10 §2: Tekton's buildpacks-phases task (tektoncd/catalog task/buildpacks-phases 0.3,
// Platform API 0.13), replayed step by step: analyzer, detector, restorer (through bash, as
// its script does), builder and exporter, each a container of the slipway builder image with
// exactly the task's arguments — empty values included — sharing /layers, /platform, the
// source and cache workspaces; credentials only in $HOME for the registry steps. report.toml
// names the digest the registry serves; the second run restores from the cache workspace.
func TestTektonBuildpacksPhasesTask(t *testing.T) {
	r := sharedRig(t)
	image := r.reg + "/tekton/app:1"
	// The cache workspace outlives a run of the task; the other volumes are emptyDirs.
	cache := r.newPod(t, "cache").volumes["cache"]
	var digest string
	for run := 1; run <= 2; run++ {
		p := r.newPod(t, "layers", "platform", "source", "home", "kaniko")
		p.volumes["cache"] = cache
		copyApp(t, helloApp(t, "Tekton", "one"), p.volumes["source"])
		e2ekit.WriteFile(t, filepath.Join(p.volumes["platform"], "env", "GREETING_STYLE"), "warm")
		dockerConfig(t, p.volumes["home"], r.reg)
		p.chown(t)
		env := []string{"CNB_PLATFORM_API=0.13", "CNB_EXPERIMENTAL_MODE=silent", "HOME=/tekton/home"}
		src := "/workspace/source/" // $(workspaces.source.path)/$(params.SOURCE_SUBPATH)
		p.run(t, taskStep{name: "analyze", entrypoint: "/cnb/lifecycle/analyzer", env: env,
			args: []string{"-log-level=info", "-layers=/layers", "-run-image=", "-cache-image=", "-uid=1000", "-gid=1000",
				"-insecure-registry=" + r.reg, "-tag=", "-skip-layers=false", image},
			mounts: map[string]string{"layers": "/layers", "home": "/tekton/home"}})
		p.run(t, taskStep{name: "detect", entrypoint: "/cnb/lifecycle/detector", env: env,
			args:   []string{"-log-level=info", "-app=" + src, "-group=/layers/group.toml", "-plan=/layers/plan.toml", "-layers=/layers", "-platform=/platform"},
			mounts: map[string]string{"layers": "/layers", "platform": "/platform", "source": "/workspace/source"}})
		script := `export BUILD_IMAGE=${CNB_BUILD_IMAGE:-${CNB_BUILDER_IMAGE}}
/cnb/lifecycle/restorer \
  -log-level=${CNB_LOG_LEVEL} \
  -build-image=${BUILD_IMAGE} \
  -group=/layers/group.toml \
  -layers=${CNB_LAYERS_DIR} \
  -cache-dir=/workspace/cache \
  -cache-image=${CNB_CACHE_IMAGE} \
  -uid=${UID} \
  -gid=${GID} \
  -insecure-registry=${CNB_INSECURE_REGISTRIES} \
  -skip-layers=${CNB_SKIP_LAYERS}`
		out := p.run(t, taskStep{name: "restore", entrypoint: "bash",
			env: append([]string{"UID=1000", "GID=1000", "CNB_LOG_LEVEL=info", "CNB_BUILD_IMAGE=", "CNB_BUILDER_IMAGE=" + r.builder,
				"CNB_CACHE_IMAGE=", "CNB_INSECURE_REGISTRIES=" + r.reg, "CNB_SKIP_LAYERS=false", "CNB_LAYERS_DIR=/layers"}, env...),
			args:   []string{"-c", script},
			mounts: map[string]string{"layers": "/layers", "kaniko": "/kaniko", "cache": "/workspace/cache", "home": "/tekton/home"}})
		if run == 2 && !strings.Contains(out, "Restoring data for \"test/layers:l-TTT\" from cache") {
			t.Errorf("run 2: the restorer did not restore from the cache workspace:\n%s", out)
		}
		out = p.run(t, taskStep{name: "build", entrypoint: "/cnb/lifecycle/builder", env: env,
			args:   []string{"-log-level=info", "-app=" + src, "-layers=/layers", "-group=/layers/group.toml", "-plan=/layers/plan.toml", "-platform=/platform"},
			mounts: map[string]string{"layers": "/layers", "platform": "/platform", "source": "/workspace/source"}})
		e2ekit.MustContain(t, out, "building greeter for Tekton as uid 1000")
		p.run(t, taskStep{name: "export", entrypoint: "/cnb/lifecycle/exporter", env: env,
			args: []string{"-log-level=info", "-app=" + src, "-layers=/layers", "-group=/layers/group.toml", "-cache-dir=/workspace/cache",
				"-cache-image=", "-report=/layers/report.toml", "-process-type=web", "-uid=1000", "-gid=1000",
				"-insecure-registry=" + r.reg, image},
			mounts: map[string]string{"layers": "/layers", "source": "/workspace/source", "cache": "/workspace/cache", "home": "/tekton/home"}})
		d := p.readReport(t, "layers", image)
		if run == 2 && d != digest {
			t.Errorf("run 2 (nothing changed) gave %s, run 1 %s", d, digest)
		}
		digest = d
	}
	// platform.md, exporter: the app is where the task had it, /workspace/source, and that is
	// the image's working directory; the layers are at /layers.
	img, err := registry.Image(context.Background(), image, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.WorkingDir != "/workspace/source" || !slices.Contains(cf.Config.Env, "CNB_APP_DIR=/workspace/source") ||
		!slices.Contains(cf.Config.Env, "CNB_LAYERS_DIR=/layers") {
		t.Errorf("WorkingDir %q, Env %v: want the task's -app /workspace/source and -layers /layers", cf.Config.WorkingDir, cf.Config.Env)
	}
	var appFile bool
	e2ekit.WalkImage(t, img, func(h *tar.Header, _ io.Reader) { appFile = appFile || h.Name == "workspace/source/hello.txt" })
	if !appFile {
		t.Error("no workspace/source/hello.txt in the image")
	}
	r.podmanCmd(t, "pull", "-q", image)
	if got := r.podmanCmd(t, "run", "--rm", "--network", "none", image); !strings.Contains(got, "Hello, Tekton! args: default-arg") {
		t.Errorf("the image printed %q", got)
	}
}

// Issue 10 §2: kpack's build pod (buildpacks-community/kpack, pkg/apis/build/v1alpha2
// build_pod.go, Platform API 0.8): the init containers analyze, detect, restore, build and
// export with kpack's arguments and volumes, the pod running as the builder's CNB user,
// registry credentials in $HOME only for analyze, restore and export. The image has the
// layers `slipway build --publish` makes of the same app with the same builder.
func TestKpackBuildPod(t *testing.T) {
	r := sharedRig(t)
	image := r.reg + "/kpack/app:1"
	p := r.newPod(t, "layers", "platform", "workspace", "cache", "home", "report")
	app := helloApp(t, "Kpack", "one")
	copyApp(t, app, p.volumes["workspace"])
	dockerConfig(t, p.volumes["home"], r.reg)
	p.chown(t)
	api := "CNB_PLATFORM_API=0.8"
	p.run(t, taskStep{name: "analyze", entrypoint: "/cnb/lifecycle/analyzer",
		env:    []string{"HOME=/builder/home", api, "SERVICE_BINDING_ROOT=/platform/bindings"},
		args:   []string{"-layers=/layers", "-analyzed=/layers/analyzed.toml", "-tag=" + r.reg + "/kpack/app:latest", image},
		mounts: map[string]string{"layers": "/layers", "workspace": "/workspace", "home": "/builder/home"}})
	p.run(t, taskStep{name: "detect", entrypoint: "/cnb/lifecycle/detector", env: []string{api},
		args:   []string{"-app=/workspace", "-group=/layers/group.toml", "-plan=/layers/plan.toml"},
		mounts: map[string]string{"layers": "/layers", "platform": "/platform", "workspace": "/workspace"}})
	p.run(t, taskStep{name: "restore", entrypoint: "/cnb/lifecycle/restorer", env: []string{"HOME=/builder/home", api},
		args:   []string{"-group=/layers/group.toml", "-layers=/layers", "-cache-dir=/cache", "-analyzed=/layers/analyzed.toml"},
		mounts: map[string]string{"layers": "/layers", "home": "/builder/home", "cache": "/cache"}})
	p.run(t, taskStep{name: "build", entrypoint: "/cnb/lifecycle/builder", env: []string{api, "SERVICE_BINDING_ROOT=/platform/bindings"},
		args:   []string{"-layers=/layers", "-app=/workspace", "-group=/layers/group.toml", "-plan=/layers/plan.toml"},
		mounts: map[string]string{"layers": "/layers", "platform": "/platform", "workspace": "/workspace"}})
	p.run(t, taskStep{name: "export", entrypoint: "/cnb/lifecycle/exporter", env: []string{"HOME=/builder/home", api},
		args: []string{"-layers=/layers", "-app=/workspace", "-group=/layers/group.toml", "-analyzed=/layers/analyzed.toml",
			"-project-metadata=/layers/project-metadata.toml", "-cache-dir=/cache", "-report=/var/report/report.toml",
			image, r.reg + "/kpack/app:latest"},
		mounts: map[string]string{"layers": "/layers", "workspace": "/workspace", "home": "/builder/home", "report": "/var/report", "cache": "/cache"}})
	p.readReport(t, "report", image)
	if _, err := os.Stat(filepath.Join(p.volumes["cache"], "committed")); err != nil {
		t.Errorf("the exporter wrote no cache to the cache volume: %v", err)
	}

	// The same app and builder through `slipway build`: the same layers. (The configs differ
	// only where they must: CNB_PLATFORM_API in the image's Env is the API the phases ran at.)
	e := e2ekit.EmptyEnv(t)
	same := r.reg + "/kpack/slipway-built:1"
	e.MustSlipway("build", same, "--path", app, "--builder", r.builder, "--publish")
	diffIDs := func(ref string) string {
		img, err := registry.Image(context.Background(), ref, registry.Options{})
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, d := range cf.RootFS.DiffIDs {
			ids = append(ids, d.String())
		}
		return strings.Join(ids, "\n")
	}
	if a, b := diffIDs(image), diffIDs(same); a != b {
		t.Errorf("kpack's five containers and slipway build made different layers:\n%s\nvs\n%s", a, b)
	}
	r.podmanCmd(t, "pull", "-q", image)
	if got := r.podmanCmd(t, "run", "--rm", "--network", "none", image); !strings.Contains(got, "Hello, Kpack! args: default-arg") {
		t.Errorf("the image printed %q", got)
	}
}
