package platforms

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/slipway/slipway/internal/e2ekit"
	"github.com/slipway/slipway/lifecycle"
	"github.com/slipway/slipway/registry"
)

// Issue 10, Proof: pack reads what slipway wrote — `pack builder inspect` a slipway builder
// image and `pack inspect` a slipway-built app image, both in a registry on 127.0.0.1, with
// pack talking to podman's Docker-compatible socket.
func TestPackInspectsSlipwayImages(t *testing.T) {
	r := sharedRig(t)
	e := e2ekit.NewEnv(t)
	appRef := r.reg + "/inspected/app"
	e.MustSlipway("build", appRef, "--path", e2ekit.App("hello"), "--builder", e.Builder, "--publish")

	home := t.TempDir()
	out := r.mustPack(t, home, "builder", "inspect", r.builder)
	remote := out
	if i := strings.Index(out, "REMOTE:"); i >= 0 {
		remote = out[i:]
	}
	if i := strings.Index(remote, "LOCAL:"); i >= 0 {
		remote = remote[:i]
	}
	e2ekit.MustContain(t, remote, "test/hello", "test/layers", "Run Images:", r.runImage)
	if strings.Contains(remote, "not present") || strings.Contains(strings.ToLower(remote), "error") {
		t.Errorf("pack could not read the slipway builder:\n%s", out)
	}
	out = r.mustPack(t, home, "inspect", appRef)
	e2ekit.MustContain(t, out, "REMOTE:", "test/hello", "web", "greet")
}

// packBuildFlags are the flags every `pack build` of these tests passes: the builder is
// trusted (slipway publishes no separate lifecycle image, which pack's untrusted flow needs),
// the phase containers use the host network (the registry listens on 127.0.0.1 only) and
// reach the podman socket pack itself uses.
func (r *rig) packBuildFlags(app string) []string {
	return []string{"--builder", r.builder, "--trust-builder", "--path", app, "--network", "host",
		"--docker-host", "inherit", "--pull-policy", "if-not-present"}
}

// Issue 10, Proof: `pack build --publish` with a slipway builder image. pack runs the
// phases one by one, each a container of the builder image through podman's Docker API,
// passing them the Platform API flags of the newest version both speak (-run, -cache-dir,
// -launch-cache …); the image lands in the registry, valid, and runs.
func TestPackBuildPublish(t *testing.T) {
	r := sharedRig(t)
	home := t.TempDir()
	app := helloApp(t, "Pack", "one")
	image := r.reg + "/pack/published:1"
	out := r.mustPack(t, home, append([]string{"build", image, "--publish", "--tag", r.reg + "/pack/published:latest"}, r.packBuildFlags(app)...)...)
	e2ekit.MustContain(t, out, "===> ANALYZING", "===> DETECTING", "===> RESTORING", "===> BUILDING", "===> EXPORTING",
		"test/hello 1.0.0", "building greeter for Pack", "Successfully built image")

	img, err := registry.Image(context.Background(), image, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Fatalf("validate.Image: %v", err)
	}
	d, _ := img.Digest()
	latest, err := registry.Image(context.Background(), r.reg+"/pack/published:latest", registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ld, _ := latest.Digest(); ld != d {
		t.Errorf("--tag latest is %s, the image %s", ld, d)
	}
	md, err := lifecycle.ReadLayersMetadata(img)
	if err != nil {
		t.Fatal(err)
	}
	if md.RunImage.Image != r.runImage || !strings.HasPrefix(md.RunImage.Reference, r.reg+"/slipway-test/run@sha256:") {
		t.Errorf("runImage metadata %+v, want image %s by digest", md.RunImage, r.runImage)
	}
	r.podmanCmd(t, "pull", "-q", image)
	if got := r.podmanCmd(t, "run", "--rm", "--network", "none", image); !strings.Contains(got, "Hello, Pack! args: default-arg") {
		t.Errorf("the image printed %q", got)
	}

	// The second build restores the cache=true layers from pack's cache volume and finds
	// the first image, as the reference lifecycle would.
	out = r.mustPack(t, home, append([]string{"build", image, "--publish"}, r.packBuildFlags(app)...)...)
	e2ekit.MustContain(t, out, "Previous image "+r.reg+"/pack/published@"+d.String(),
		"seen l-TTT toml=yes meta=yes content=yes", "seen l-FFT toml=yes meta=yes content=no")
	again, err := registry.Image(context.Background(), image, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ad, _ := again.Digest(); ad != d {
		t.Errorf("an unchanged rebuild gave %s, the first build %s", ad, d)
	}
}

// Issue 10, Proof: pack's default mode, no --publish. The analyzer, restorer and exporter get
// -daemon and the podman socket: the previous and run images are read from and the app
// image is loaded into podman's storage, with -launch-cache so the rebuild reads no layer
// back from the daemon. An unchanged rebuild is the same image, its layers reused.
func TestPackBuildDaemon(t *testing.T) {
	r := sharedRig(t)
	home := t.TempDir()
	app := helloApp(t, "Daemon", "one")
	image := "localhost/pack/daemon:1"
	out := r.mustPack(t, home, append([]string{"build", image}, r.packBuildFlags(app)...)...)
	e2ekit.MustContain(t, out, "No previous image", "building greeter for Daemon", "Successfully built image")
	id := strings.TrimSpace(r.podmanCmd(t, "image", "inspect", "--format", "{{.Id}}", image))
	if got := r.podmanCmd(t, "run", "--rm", "--network", "none", image); !strings.Contains(got, "Hello, Daemon! args: default-arg") {
		t.Errorf("the image printed %q", got)
	}

	out = r.mustPack(t, home, append([]string{"build", image}, r.packBuildFlags(app)...)...)
	e2ekit.MustContain(t, out, "Previous image sha256:"+id, "seen l-TTT toml=yes meta=yes content=yes",
		"Reusing layer 'test/layers:l-FFT'")
	if again := strings.TrimSpace(r.podmanCmd(t, "image", "inspect", "--format", "{{.Id}}", image)); again != id {
		t.Errorf("an unchanged rebuild gave image %s, the first build %s", again, id)
	}
}
