package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/registry"
	"github.com/slipway/slipway/tomlfile"
)

// registryImages is Images on a registry, as publish.Registry is (which this package cannot
// import).
type registryImages struct{ ro registry.Options }

func (r registryImages) Image(ctx context.Context, ref string) (v1.Image, error) {
	return registry.Image(ctx, ref, r.ro)
}

func (r registryImages) Write(ctx context.Context, names []string, img v1.Image) (platform.ImageReport, error) {
	d, err := registry.Publish(ctx, names, img, r.ro, nil)
	if err != nil {
		return platform.ImageReport{}, err
	}
	return platform.ImageReport{Digest: d.String()}, nil
}

// platform.md, rebaser: the phase as /cnb/lifecycle/rebaser runs it — the run image from the
// label when -run-image is not given, the result under <image> and every other positional
// name, report.toml naming the digest the registry serves.
func TestRebaserPhase_Section5_8(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	ctx := context.Background()
	_, host := startTestRegistry(t)
	run := rebaseRunImage(t, true)
	newRun := patchedRunImage(t, run)
	pushRebaseFixture(t, ctx, host, exportApp(t, run), newRun)

	report := filepath.Join(t.TempDir(), "report.toml")
	env := []string{"CNB_PLATFORM_API=0.12"}
	in, err := platform.ParseInputs(platform.Rebaser, []string{"-report", report, host + "/app:latest", host + "/app:rebased"}, env, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	o := IO{Images: registryImages{}, Environ: env, Stdout: &stdout, Stderr: &bytes.Buffer{}}
	res, err := Rebaser(ctx, in, o)
	if err != nil {
		t.Fatal(err)
	}
	var rep platform.Report
	if err := tomlfile.Read(report, &rep); err != nil {
		t.Fatal(err)
	}
	nd, _ := newRun.Digest()
	for _, tag := range []string{"latest", "rebased"} {
		got, err := registry.Image(ctx, host+"/app:"+tag, registry.Options{})
		if err != nil {
			t.Fatal(err)
		}
		d, _ := got.Digest()
		if rep.Image.Digest != d.String() {
			t.Errorf("report.toml digest %s, %s:%s is %s", rep.Image.Digest, host+"/app", tag, d)
		}
		md, err := ReadLayersMetadata(got)
		if err != nil {
			t.Fatal(err)
		}
		if md.RunImage.Reference != host+"/run@"+nd.String() {
			t.Errorf("runImage.reference %s, want the new run image %s/run@%s", md.RunImage.Reference, host, nd)
		}
	}
	if want := []string{host + "/app:latest", host + "/app:rebased"}; !slices.Equal(rep.Image.Tags, want) {
		t.Errorf("report.toml tags %v, want %v", rep.Image.Tags, want)
	}
	newLayers := digests(t, mustLayers(t, newRun))
	if got := digests(t, mustLayers(t, res.Image)); !slices.Equal(got[:len(newLayers)], newLayers) {
		t.Errorf("base layers %v, want the new run image's %v", got[:len(newLayers)], newLayers)
	}
	if !strings.Contains(stdout.String(), "*** Images (") {
		t.Errorf("stdout lacks the images it wrote:\n%s", stdout.String())
	}
}

// platform.md, rebaser: without -run-image and no run image in the label, the phase fails
// with exit code 3 naming -run-image; an unreadable image to rebase is 72.
func TestRebaserPhaseErrors_Section5_8(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	ctx := context.Background()
	_, host := startTestRegistry(t)
	app := exportApp(t, rebaseRunImage(t, true))
	app = editConfig(t, app, func(cf *v1.ConfigFile) {
		md, _ := ReadLayersMetadata(app)
		md.RunImage.Image, md.RunImage.Mirrors, md.Stack = "", nil, nil
		b, _ := jsonMarshal(*md)
		cf.Config.Labels[platform.LabelLifecycleMetadata] = b
	})
	if _, err := registry.Write(ctx, host+"/bare:1", app, registry.Options{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		image string
		code  int
		want  string
	}{
		{host + "/bare:1", platform.CodeInvalidArgs, "-run-image is required"},
		{host + "/missing:1", platform.CodeRebaseError, "image to rebase " + host + "/missing:1"},
	} {
		in, err := platform.ParseInputs(platform.Rebaser, []string{"-report", filepath.Join(t.TempDir(), "r.toml"), tc.image}, nil, &bytes.Buffer{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = Rebaser(ctx, in, IO{Images: registryImages{}, Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}})
		var pe *platform.Error
		if !errors.As(err, &pe) || pe.Code != tc.code || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want exit %d and %q", tc.image, err, tc.code, tc.want)
		}
	}
}
