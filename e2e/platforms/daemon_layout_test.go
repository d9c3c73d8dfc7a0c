package platforms

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/slipway/slipway/internal/e2ekit"
	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/tomlfile"
)

// Issue 10 §1: `slipway build --daemon` loads the image straight into the user's podman (or
// Docker) through the Docker Engine API at DOCKER_HOST, no save/load step; an unchanged
// rebuild is the same image. Without a daemon the error names the socket tried and what to set,
// for `slipway build --daemon` and for a phase's -daemon alike.
func TestSlipwayBuildDaemon(t *testing.T) {
	r := sharedRig(t)
	e := e2ekit.EmptyEnv(t)
	t.Setenv("DOCKER_HOST", r.dockerHost)
	app := helloApp(t, "Local", "one")
	image := "localhost/slipway/daemon:1"
	args := []string{"build", image, "--path", app, "--builder", r.builder, "--daemon"}
	out := e.MustSlipway(args...)
	id := strings.TrimSpace(r.podmanCmd(t, "image", "inspect", "--format", "{{.Id}}", image))
	e2ekit.MustContain(t, out, "Successfully built image "+image+" (sha256:"+id+")")
	if got := r.podmanCmd(t, "run", "--rm", "--network", "none", image); !strings.Contains(got, "Hello, Local! args: default-arg") {
		t.Errorf("the image printed %q", got)
	}
	sent, _ := loadStats(t, out)
	out = e.MustSlipway(args...)
	if again := strings.TrimSpace(r.podmanCmd(t, "image", "inspect", "--format", "{{.Id}}", image)); again != id {
		t.Errorf("an unchanged rebuild gave image %s, the first build %s", again, id)
	}
	e2ekit.MustContain(t, out, "is in the Docker daemon already: nothing sent")

	// A changed app: every layer below the app's is the last build's, which the daemon holds;
	// the load sends none of them (podman skips a layer whose diffID it has, Docker one whose
	// chain it has), so the run image's layers are not sent again.
	e2ekit.WriteFile(t, filepath.Join(app, "hello.txt"), "Changed")
	out = e.MustSlipway(args...)
	sentAgain, skipped := loadStats(t, out)
	runLayers, _ := r.runImg.Layers()
	var runSize int64
	for _, l := range runLayers {
		n, _ := l.Size()
		runSize += n
	}
	if skipped < len(runLayers) || sentAgain > sent-runSize/2 {
		t.Errorf("changed rebuild: %d bytes sent, %d layers skipped; want the %d run image layers (%d bytes) skipped of the first build's %d bytes",
			sentAgain, skipped, len(runLayers), runSize, sent)
	}
	t.Logf("daemon load: first build %d bytes, changed rebuild %d bytes (%d layers not sent)", sent, sentAgain, skipped)
	if got := r.podmanCmd(t, "run", "--rm", "--network", "none", image); !strings.Contains(got, "Hello, Changed! args: default-arg") {
		t.Errorf("the rebuilt image printed %q", got)
	}

	missing := "unix://" + filepath.Join(t.TempDir(), "no-daemon.sock")
	t.Setenv("DOCKER_HOST", missing)
	out, code := e.Slipway(args...)
	if code == 0 || !strings.Contains(out, "no Docker daemon answers at "+missing) || !strings.Contains(out, "set DOCKER_HOST") {
		t.Errorf("slipway build --daemon without a daemon: exit %d, want an error naming %s and DOCKER_HOST:\n%s", code, missing, out)
	}
	cmd := exec.Command(e2ekit.SlipwayBin, "lifecycle", "analyzer", "-daemon", "-layers", t.TempDir(), image)
	cmd.Env = append(os.Environ(), "CNB_PLATFORM_API=0.15")
	b, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "no Docker daemon answers at "+missing) {
		t.Errorf("analyzer -daemon without a daemon: %v, want an error naming %s:\n%s", err, missing, b)
	}
}

// loadStats reads the bytes sent and the layers not sent from slipway's report of a load
// into the daemon.
func loadStats(t *testing.T, out string) (sent int64, skipped int) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if i := strings.Index(line, "into the Docker daemon: "); i >= 0 {
			var total int
			if _, err := fmt.Sscanf(line[i:], "into the Docker daemon: %d bytes sent; %d of %d layers", &sent, &skipped, &total); err == nil {
				return sent, skipped
			}
		}
	}
	t.Fatalf("no load report in:\n%s", out)
	return 0, 0
}

// writeLayout writes img as an OCI image layout at dir.
func writeLayout(t *testing.T, dir string, img v1.Image) {
	t.Helper()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
}

// Issue 10 §1, layout mode (platform.md, Experimental Features: OCI layout): the five phases
// as containers of the builder image with -layout/CNB_USE_LAYOUT and a layout directory
// instead of a registry — the run image is read from <dir>/<registry>/<repo>/<tag>, the app
// image written beside it; the second build finds the first there as its previous image.
func TestLayoutMode(t *testing.T) {
	r := sharedRig(t)
	image := "example.com/apps/layout:1"
	p := r.newPod(t, "layout-repo", "workspace", "platform", "cache")
	run, err := name.ParseReference(r.runImage)
	if err != nil {
		t.Fatal(err)
	}
	writeLayout(t, filepath.Join(p.volumes["layout-repo"], run.Context().RegistryStr(), run.Context().RepositoryStr(), run.Identifier()), r.runImg)
	copyApp(t, helloApp(t, "Layout", "one"), p.volumes["workspace"])
	out := filepath.Join(p.volumes["layout-repo"], "example.com", "apps", "layout", "1")
	var digest string
	for i := 1; i <= 2; i++ {
		layers := r.newPod(t, "layers").volumes["layers"]
		p.volumes["layers"] = layers
		p.chown(t)
		env := []string{"CNB_PLATFORM_API=0.15", "CNB_USE_LAYOUT=true", "CNB_LAYOUT_DIR=/layout-repo"}
		all := map[string]string{"layers": "/layers", "workspace": "/workspace", "platform": "/platform", "cache": "/cache", "layout-repo": "/layout-repo"}
		got := p.run(t, taskStep{name: "analyze", entrypoint: "/cnb/lifecycle/analyzer", env: env, args: []string{"-layers=/layers", image}, mounts: all})
		if i == 2 && !strings.Contains(got, "Previous image example.com/apps/layout@"+digest) {
			t.Errorf("run 2: the analyzer did not find the first image in the layout:\n%s", got)
		}
		p.run(t, taskStep{name: "detect", entrypoint: "/cnb/lifecycle/detector", env: env, args: []string{"-app=/workspace"}, mounts: all})
		p.run(t, taskStep{name: "restore", entrypoint: "/cnb/lifecycle/restorer", env: env, args: []string{"-cache-dir=/cache"}, mounts: all})
		p.run(t, taskStep{name: "build", entrypoint: "/cnb/lifecycle/builder", env: env, args: []string{"-app=/workspace"}, mounts: all})
		// The flag form this time, as pack passes it.
		p.run(t, taskStep{name: "export", entrypoint: "/cnb/lifecycle/exporter", env: []string{"CNB_PLATFORM_API=0.15"},
			args: []string{"-layout", "-layout-dir=/layout-repo", "-app=/workspace", "-cache-dir=/cache", image}, mounts: all})

		ii, err := layout.ImageIndexFromPath(out)
		if err != nil {
			t.Fatalf("run %d: no OCI layout at %s: %v", i, out, err)
		}
		im, _ := ii.IndexManifest()
		img, err := ii.Image(im.Manifests[0].Digest)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate.Image(img); err != nil {
			t.Fatalf("run %d: validate.Image: %v", i, err)
		}
		d, _ := img.Digest()
		var rep platform.Report
		if err := tomlfile.Read(filepath.Join(layers, "report.toml"), &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Image.Digest != d.String() {
			t.Errorf("run %d: report.toml says %s, the layout holds %s", i, rep.Image.Digest, d)
		}
		if i == 2 && d.String() != digest {
			t.Errorf("run 2 (nothing changed) gave %s, run 1 %s", d, digest)
		}
		digest = d.String()
	}
	id := strings.TrimSpace(r.podmanCmd(t, "pull", "-q", "oci:"+out))
	if got := r.podmanCmd(t, "run", "--rm", "--network", "none", id); !strings.Contains(got, "Hello, Layout! args: default-arg") {
		t.Errorf("the image printed %q", got)
	}
}
