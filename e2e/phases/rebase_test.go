package phases

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/slipway/slipway/imagestore"
	"github.com/slipway/slipway/internal/e2ekit"
	"github.com/slipway/slipway/layer"
	"github.com/slipway/slipway/lifecycle"
	"github.com/slipway/slipway/platform"
)

// patchRunImage adds a layer holding /etc/patched to the stored test run image and stores
// the result under name: a "patched" run image.
func patchRunImage(t *testing.T, s *imagestore.Store, name string) v1.Image {
	t.Helper()
	run, err := s.Image(e2ekit.RunImageName)
	if err != nil {
		t.Fatal(err)
	}
	mt := types.OCILayer
	if m, _ := run.MediaType(); m == types.DockerManifestSchema2 {
		mt = types.DockerLayer
	}
	file := filepath.Join(t.TempDir(), "patched")
	e2ekit.WriteFile(t, file, "patched base\n")
	l, err := layer.FromEntries(context.Background(), []layer.Entry{{
		Type: layer.EntryFile, Path: "/etc/patched", HostPath: file, Owner: layer.Owner{Mode: 0o644},
	}}, layer.Options{ScratchDir: t.TempDir(), MediaType: mt})
	if err != nil {
		t.Fatal(err)
	}
	patched, err := mutate.Append(run, mutate.Addendum{Layer: l, MediaType: mt, History: v1.History{CreatedBy: "patch /etc"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(context.Background(), name, patched); err != nil {
		t.Fatal(err)
	}
	return patched
}

// platform.md, rebaser (short name: podman limits its runroot path length): rebase a built app onto a patched run image in the local store;
// the result still runs under podman and sees the patched base.
func TestRebasePodman(t *testing.T) {
	e := e2ekit.NewEnv(t)
	e.MustSlipway("build", "myapp", "--path", e2ekit.App("hello"), "--builder", e.Builder)
	s, err := imagestore.Open(e.Store)
	if err != nil {
		t.Fatal(err)
	}
	before, err := s.Image("myapp")
	if err != nil {
		t.Fatal(err)
	}
	beforeDigest, _ := before.Digest()

	if out := e.MustSlipway("rebase", "myapp", "--dry-run"); !strings.Contains(out, "myapp: up to date") {
		t.Errorf("dry-run before the patch printed %q, want up to date", out)
	}
	patched := patchRunImage(t, s, e2ekit.RunImageName)
	out := e.MustSlipway("rebase", "myapp", "--dry-run")
	if !strings.Contains(out, "myapp: would rebase from") {
		t.Errorf("dry-run printed %q", out)
	}
	if img, _ := s.Image("myapp"); img != nil {
		if d, _ := img.Digest(); d != beforeDigest {
			t.Fatal("--dry-run wrote the image")
		}
	}

	report := filepath.Join(t.TempDir(), "report.toml")
	if out := e.MustSlipway("rebase", "myapp", "--report", report); !strings.Contains(out, "Rebased myapp onto") {
		t.Errorf("rebase printed %q", out)
	}
	img, err := s.Image("myapp")
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Fatalf("validate.Image: %v", err)
	}
	d, _ := img.Digest()
	rep, err := os.ReadFile(report)
	if err != nil || !strings.Contains(string(rep), d.String()) || !strings.Contains(string(rep), "localhost/myapp:latest") {
		t.Errorf("report.toml %q (%v), want digest %s", rep, err, d)
	}
	meta, err := lifecycle.ReadLayersMetadata(img)
	if err != nil {
		t.Fatal(err)
	}
	pd, _ := patched.Digest()
	if !strings.HasSuffix(meta.RunImage.Reference, "@"+pd.String()) || meta.RunImage.Image != e2ekit.RunImageName {
		t.Errorf("runImage %+v, want reference @%s and image %s", meta.RunImage, pd, e2ekit.RunImageName)
	}
	if out := e.MustSlipway("rebase", "myapp"); !strings.Contains(out, "up to date") {
		t.Errorf("second rebase printed %q, want up to date", out)
	}

	archive := filepath.Join(t.TempDir(), "myapp.tar")
	e.MustSlipway("save", "myapp", "-o", archive)
	// The image's entrypoint is the web process link, which takes user args as its own; the
	// bare launcher runs `-- cmd` directly (buildpack.md, Launch).
	if got := e2ekit.PodmanLaunch(t, archive, "localhost/myapp", "cat", "/etc/patched"); !strings.Contains(got, "patched base") {
		t.Errorf("/etc/patched in the rebased image: %q", got)
	}
	if got := e2ekit.PodmanRun(t, archive, "localhost/myapp"); !strings.Contains(got, "Hello, World! args: default-arg") {
		t.Errorf("default process after rebase printed %q", got)
	}
}

// platform.md, rebaser: a run image under another name is refused (exit 72) unless forced; forced,
// it becomes the recorded run image. Batch form reports per image.
func TestRebaseForce(t *testing.T) {
	e := e2ekit.NewEnv(t)
	e.MustSlipway("build", "myapp", "--path", e2ekit.App("hello"), "--builder", e.Builder)
	s, err := imagestore.Open(e.Store)
	if err != nil {
		t.Fatal(err)
	}
	patchRunImage(t, s, "other/run:patched")
	out, code := e.Slipway("rebase", "myapp", "--run-image", "other/run:patched")
	if code != platform.CodeRebaseError || !strings.Contains(out, "--force") {
		t.Fatalf("exit %d, output %q; want %d and a hint to --force", code, out, platform.CodeRebaseError)
	}
	out = e.MustSlipway("rebase", "myapp", "--run-image", "other/run:patched", "--force")
	if !strings.Contains(out, "warning:") || !strings.Contains(out, "Rebased myapp") {
		t.Errorf("forced rebase printed %q", out)
	}
	img, err := s.Image("myapp")
	if err != nil {
		t.Fatal(err)
	}
	meta, err := lifecycle.ReadLayersMetadata(img)
	if err != nil {
		t.Fatal(err)
	}
	if meta.RunImage.Image != "other/run:patched" || len(meta.RunImage.Mirrors) != 0 {
		t.Errorf("runImage %+v after --force", meta.RunImage)
	}

	// Batch: one image fine, one missing; the failure is reported and the exit code is 72.
	out, code = e.Slipway("rebase", "myapp", "nosuchapp", "--dry-run")
	if code != platform.CodeRebaseError || !strings.Contains(out, "myapp: up to date") || !strings.Contains(out, "nosuchapp") {
		t.Errorf("batch exit %d output %q", code, out)
	}
}
