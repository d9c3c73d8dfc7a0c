package platforms

import (
	"archive/tar"
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/slipway/slipway/internal/e2ekit"
	"github.com/slipway/slipway/lifecycle"
	"github.com/slipway/slipway/registry"
)

// patchedBase is base plus one layer holding /etc/slipway-rebased: a new version of a run
// image, with the same labels.
func patchedBase(t *testing.T, base v1.Image) v1.Image {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := "patched base\n"
	tw.WriteHeader(&tar.Header{Name: "etc/slipway-rebased", Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(315532801, 0)})
	tw.Write([]byte(body))
	tw.Close()
	l, err := tarball.LayerFromReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	mt, err := base.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	lmt := types.OCILayer
	if mt == types.DockerManifestSchema2 {
		lmt = types.DockerLayer
	}
	img, err := mutate.Append(base, mutate.Addendum{Layer: l, MediaType: lmt, History: v1.History{CreatedBy: "patch"}})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// dockerTyped is img with Docker media types — a Docker v2s2 manifest and config, Docker
// gzip layers — as `docker push` publishes images. The layer blobs are the same bytes
// (a gzip tar is one in both families); only the descriptors change.
func dockerTyped(t *testing.T, img v1.Image) v1.Image {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	out := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.DockerManifestSchema2), types.DockerConfigJSON)
	adds := make([]mutate.Addendum, 0, len(layers))
	for _, l := range layers {
		adds = append(adds, mutate.Addendum{Layer: l, MediaType: types.DockerLayer})
	}
	if out, err = mutate.Append(out, adds...); err != nil {
		t.Fatal(err)
	}
	if out, err = mutate.ConfigFile(out, cf); err != nil {
		t.Fatal(err)
	}
	return out
}

// oneFamily fails unless the manifest, config and every layer of img are all Docker or all
// OCI media types: podman (containers/image) refuses a Docker v2s2 manifest listing an OCI
// layer ("unsupported docker v2s2 media type").
func oneFamily(t *testing.T, what string, img v1.Image) {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	docker := m.MediaType == types.DockerManifestSchema2
	want := map[bool][2]types.MediaType{true: {types.DockerConfigJSON, types.DockerLayer}, false: {types.OCIConfigJSON, types.OCILayer}}[docker]
	if m.Config.MediaType != want[0] {
		t.Errorf("%s: manifest %s with config %s", what, m.MediaType, m.Config.MediaType)
	}
	for i, l := range m.Layers {
		if l.MediaType != want[1] {
			t.Errorf("%s: manifest %s lists layer %d as %s", what, m.MediaType, i, l.MediaType)
		}
	}
}

func diffIDs(t *testing.T, img v1.Image) []string {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range cf.RootFS.DiffIDs {
		ids = append(ids, d.String())
	}
	return ids
}

// checkRebased reads rebased back and checks a rebase of built (on oldBase) onto newBase,
// pushed as runRepo: the new base's layers, then built's layers above the old base, the
// label's runImage pointing at the new base, one media-type family. Then podman pulls the
// image (which it refuses when the families are mixed) and runs it: the app answers and the
// patched base's file is there.
func (r *rig) checkRebased(t *testing.T, ref string, built, oldBase, newBase v1.Image, runRepo, greeting string) {
	t.Helper()
	rebased, err := registry.Image(context.Background(), ref, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(rebased); err != nil {
		t.Fatalf("validate.Image: %v", err)
	}
	oneFamily(t, "rebased image", rebased)
	oldIDs, newIDs, builtIDs, got := diffIDs(t, oldBase), diffIDs(t, newBase), diffIDs(t, built), diffIDs(t, rebased)
	if want := append(slices.Clone(newIDs), builtIDs[len(oldIDs):]...); !slices.Equal(got, want) {
		t.Errorf("rebased layers\n  %v\nwant the new base's then the app's\n  %v", got, want)
	}
	md, err := lifecycle.ReadLayersMetadata(rebased)
	if err != nil {
		t.Fatal(err)
	}
	nd, _ := newBase.Digest()
	if md.RunImage.TopLayer != newIDs[len(newIDs)-1] || md.RunImage.Reference != runRepo+"@"+nd.String() {
		t.Errorf("runImage after rebase %+v, want topLayer %s and reference %s@%s", md.RunImage, newIDs[len(newIDs)-1], runRepo, nd)
	}
	r.podmanCmd(t, "pull", "-q", ref)
	if got := r.podmanCmd(t, "run", "--rm", "--network", "none", ref); !strings.Contains(got, "Hello, "+greeting+"! args: default-arg") {
		t.Errorf("the rebased image printed %q", got)
	}
	if got := r.podmanCmd(t, "run", "--rm", "--network", "none", "--entrypoint", "cat", ref, "/etc/slipway-rebased"); !strings.Contains(got, "patched base") {
		t.Errorf("the rebased image lacks the patched base's file: %q", got)
	}
}

// Issue 10, Proof: `pack rebase` of a slipway-built image. pack rebases in its own process
// with the reference lifecycle's rebaser, which reads what slipway's exporter wrote
// (io.buildpacks.lifecycle.metadata runImage.topLayer, reference, image). pack's rebase
// always writes a Docker v2s2 manifest and keeps each layer's media type (docs/platform-api.md,
// Rebasing), so its result is valid only when the run images are Docker-typed — as images
// `docker push` publishes are — and the app layers follow them, as slipway's exporter does.
func TestPackRebase(t *testing.T) {
	r := sharedRig(t)
	ctx := context.Background()
	home := t.TempDir()
	runRepo := r.reg + "/rebase/run"
	run := dockerTyped(t, r.runImg)
	if _, err := registry.Write(ctx, runRepo+":1", run, registry.Options{}); err != nil {
		t.Fatal(err)
	}
	image := r.reg + "/rebase/app:1"
	r.mustPack(t, home, append([]string{"build", image, "--publish", "--run-image", runRepo + ":1"}, r.packBuildFlags(helloApp(t, "Rebase", "one"))...)...)
	built, err := registry.Image(ctx, image, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	oneFamily(t, "image built on a Docker-typed run image", built)

	patched := patchedBase(t, run)
	if _, err := registry.Write(ctx, runRepo+":1", patched, registry.Options{}); err != nil {
		t.Fatal(err)
	}
	out := r.mustPack(t, home, "rebase", image, "--publish")
	e2ekit.MustContain(t, out, "Rebased Image:")
	r.checkRebased(t, image, built, run, patched, runRepo, "Rebase")
}

// Issue 10 §1: /cnb/lifecycle/rebaser run from the slipway builder image as kpack's rebase
// step runs a rebaser (buildpacks-community/kpack, rebase build pod: -run-image, the last
// built image as -previous-image, -report under /var/report, the tags as positional
// images), a podman container as the builder's CNB user with registry credentials in $HOME.
// The app was built on slipway's OCI run image and the new run image is Docker-typed: the
// rebased image keeps the app's family, so podman can pull it.
func TestLifecycleRebaserKpackStyle(t *testing.T) {
	r := sharedRig(t)
	ctx := context.Background()
	runRepo := r.reg + "/krebase/run"
	if _, err := registry.Write(ctx, runRepo+":1", r.runImg, registry.Options{}); err != nil {
		t.Fatal(err)
	}
	image := r.reg + "/krebase/app:1"
	e := e2ekit.EmptyEnv(t)
	e.MustSlipway("build", image, "--path", helloApp(t, "Rebaser", "one"), "--builder", r.builder, "--publish", "--run-image", runRepo+":1")
	built, err := registry.Image(ctx, image, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	patched := dockerTyped(t, patchedBase(t, r.runImg))
	if _, err := registry.Write(ctx, runRepo+":1", patched, registry.Options{}); err != nil {
		t.Fatal(err)
	}

	p := r.newPod(t, "home", "report")
	dockerConfig(t, p.volumes["home"], r.reg)
	p.chown(t)
	rebased := r.reg + "/krebase/app:2"
	out := p.run(t, taskStep{name: "rebase", entrypoint: "/cnb/lifecycle/rebaser",
		env: []string{"HOME=/builder/home", "CNB_PLATFORM_API=0.12"},
		args: []string{"-run-image", runRepo + ":1", "-previous-image", image, "-report", "/var/report/report.toml",
			rebased, r.reg + "/krebase/app:latest"},
		mounts: map[string]string{"home": "/builder/home", "report": "/var/report"}})
	e2ekit.MustContain(t, out, "*** Images (", rebased)
	d := p.readReport(t, "report", rebased)
	latest, err := registry.Image(ctx, r.reg+"/krebase/app:latest", registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ld, _ := latest.Digest(); ld.String() != d {
		t.Errorf("the second positional image is %s, the rebased image %s", ld, d)
	}
	r.checkRebased(t, rebased, built, r.runImg, patched, runRepo, "Rebaser")

	// Errors a platform can cause: no such image, and a run image that is not the app's
	// without -force.
	for _, tc := range []struct {
		args []string
		code string
		want string
	}{
		{[]string{r.reg + "/krebase/none:1"}, "72", "image to rebase " + r.reg + "/krebase/none:1"},
		{[]string{"-run-image", r.runImage, image}, "72", "-force"},
	} {
		out, err := r.podmanRun(t, append([]string{"run", "--rm", "--network", "host", "-e", "CNB_PLATFORM_API=0.12",
			"--entrypoint", "/cnb/lifecycle/rebaser", r.builder}, tc.args...)...)
		if err == nil || !strings.Contains(out, tc.want) || !strings.Contains(err.Error(), "exit status "+tc.code) {
			t.Errorf("rebaser %v: %v, want exit %s and %q:\n%s", tc.args, err, tc.code, tc.want, out)
		}
	}
}
