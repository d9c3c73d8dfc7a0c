package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/slipway/slipway/internal/testkit"
	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/registry"
)

const newRunRef = "registry.test/run@sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

func jsonMarshal(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

func editConfig(t testing.TB, img v1.Image, edit func(*v1.ConfigFile)) v1.Image {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	edit(cf)
	out, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// rebaseRunImage is testRunImage with a linux/amd64 target and a label only the old base has.
func rebaseRunImage(t *testing.T, oci bool) v1.Image {
	t.Helper()
	return editConfig(t, testRunImage(t, oci), func(cf *v1.ConfigFile) {
		cf.OS, cf.Architecture = "linux", "amd64"
		cf.Config.Labels[platform.LabelDistroVersion] = "12"
		cf.Config.Labels["io.buildpacks.stack.mixins"] = `["old"]`
	})
}

// patchedRunImage is run plus one layer (a patched base), with the old-only label dropped
// and a new base label.
func patchedRunImage(t *testing.T, run v1.Image) v1.Image {
	t.Helper()
	mt, err := layerMediaType(run)
	if err != nil {
		t.Fatal(err)
	}
	l, err := random.Layer(256, mt)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.Append(run, mutate.Addendum{Layer: l, History: v1.History{CreatedBy: "patch"}})
	if err != nil {
		t.Fatal(err)
	}
	return editConfig(t, img, func(cf *v1.ConfigFile) {
		delete(cf.Config.Labels, "io.buildpacks.stack.mixins")
		cf.Config.Labels["io.buildpacks.base.patched"] = "yes"
	})
}

func exportApp(t *testing.T, run v1.Image) v1.Image {
	t.Helper()
	f := newExportFixture(t, webWorkerMetadata)
	img, _, err := Export(context.Background(), f.inputs(t, run))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func digests(t *testing.T, ls []v1.Layer) []v1.Hash {
	t.Helper()
	var out []v1.Hash
	for _, l := range ls {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

func mustLayers(t *testing.T, img v1.Image) []v1.Layer {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

// platform.md, rebaser: allowed rebases, each checked for layers, labels and config.
func TestRebaseAllowed_Section5_8(t *testing.T) {
	for _, tc := range []struct {
		name    string
		runName string
		edit    func(*v1.ConfigFile) // applied to the new run image
	}{
		{"newer digest of the same name", "registry.test/run:latest", nil},
		{"same repository another tag", "registry.test/run:v2", nil},
		{"digest reference", newRunRef, nil},
		{"mirror", "mirror.test/run:latest", nil},
		{"empty optional target fields match", "registry.test/run", func(cf *v1.ConfigFile) {
			delete(cf.Config.Labels, platform.LabelDistroName)
			delete(cf.Config.Labels, platform.LabelDistroVersion)
		}},
		{"distro version left empty matches", "registry.test/run", func(cf *v1.ConfigFile) {
			delete(cf.Config.Labels, platform.LabelDistroVersion)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := rebaseRunImage(t, false)
			app := exportApp(t, run)
			newRun := patchedRunImage(t, run)
			if tc.edit != nil {
				newRun = editConfig(t, newRun, tc.edit)
			}
			img, rep, err := Rebase(context.Background(), RebaseInputs{App: app, NewRunImage: newRun, NewRunImageRef: newRunRef, NewRunImageName: tc.runName})
			if err != nil {
				t.Fatal(err)
			}
			if err := validate.Image(img); err != nil {
				t.Fatalf("validate.Image: %v", err)
			}
			if rep.UpToDate || len(rep.Warnings) != 0 {
				t.Errorf("report %+v: want not up to date, no warnings", rep)
			}

			// Base layers replaced, app layers kept byte for byte.
			appLayers, runLayers, newLayers, got := mustLayers(t, app), mustLayers(t, run), mustLayers(t, newRun), mustLayers(t, img)
			want := append(digests(t, newLayers), digests(t, appLayers[len(runLayers):])...)
			if !slices.Equal(digests(t, got), want) {
				t.Errorf("layers %v, want %v", digests(t, got), want)
			}

			appCF, _ := app.ConfigFile()
			cf, _ := img.ConfigFile()
			if !cf.Created.Time.Equal(appCF.Created.Time) {
				t.Errorf("created %v, want %v kept", cf.Created, appCF.Created)
			}
			if !slices.Equal(cf.Config.Env, appCF.Config.Env) || !slices.Equal(cf.Config.Entrypoint, appCF.Config.Entrypoint) {
				t.Errorf("config not kept: env %q entrypoint %q", cf.Config.Env, cf.Config.Entrypoint)
			}
			if len(cf.History) != len(got) || cf.History[len(runLayers)].CreatedBy != "patch" ||
				cf.History[len(cf.History)-1].CreatedBy != appCF.History[len(appCF.History)-1].CreatedBy {
				t.Errorf("history not aligned: %d entries for %d layers", len(cf.History), len(got))
			}
			lbl := cf.Config.Labels
			if lbl["io.buildpacks.base.patched"] != "yes" || lbl["io.buildpacks.stack.mixins"] != "" {
				t.Errorf("base labels not synced from the new base: %v", lbl)
			}
			if lbl["org.example.team"] != "apps" || lbl[platform.LabelBuildMetadata] != appCF.Config.Labels[platform.LabelBuildMetadata] {
				t.Errorf("app labels not kept: %v", lbl)
			}
			meta, err := ReadLayersMetadata(img)
			if err != nil {
				t.Fatal(err)
			}
			newCF, _ := newRun.ConfigFile()
			wantTop := newCF.RootFS.DiffIDs[len(newCF.RootFS.DiffIDs)-1].String()
			if meta.RunImage.TopLayer != wantTop || meta.RunImage.Reference != newRunRef {
				t.Errorf("runImage %+v, want topLayer %s reference %s", meta.RunImage, wantTop, newRunRef)
			}
			if meta.RunImage.Image != "registry.test/run:latest" || !slices.Equal(meta.RunImage.Mirrors, []string{"mirror.test/run:latest"}) {
				t.Errorf("runImage name changed without force: %+v", meta.RunImage)
			}
			if rep.New.TopLayer != meta.RunImage.TopLayer || rep.New.Reference != newRunRef || rep.Old.Reference == newRunRef {
				t.Errorf("report old %+v new %+v", rep.Old, rep.New)
			}

			// The result can be rebased again (its label describes it).
			if tc.edit != nil {
				return
			}
			if _, _, err := Rebase(context.Background(), RebaseInputs{App: img, NewRunImage: run, NewRunImageRef: "registry.test/run@sha256:" + strings.Repeat("a", 64), NewRunImageName: "registry.test/run"}); err != nil {
				t.Errorf("rebase back: %v", err)
			}
		})
	}
}

// platform.md, rebaser: each refusal fails without force (exit code 72) and only warns with it.
func TestRebaseRefusals_Section5_8(t *testing.T) {
	for _, tc := range []struct {
		name    string
		runName string
		app     func(*v1.ConfigFile)
		newRun  func(*v1.ConfigFile)
		reason  string
	}{
		{name: "rebasable false", app: func(cf *v1.ConfigFile) { cf.Config.Labels[platform.LabelRebasable] = "false" }, reason: "rebasable=false"},
		{name: "os mismatch", newRun: func(cf *v1.ConfigFile) { cf.OS = "windows" }, reason: "target"},
		{name: "arch mismatch", newRun: func(cf *v1.ConfigFile) { cf.Architecture = "arm64" }, reason: "target"},
		{name: "variant mismatch", app: func(cf *v1.ConfigFile) { cf.Variant = "v7" }, newRun: func(cf *v1.ConfigFile) { cf.Variant = "v8" }, reason: "target"},
		{name: "distro name mismatch", newRun: func(cf *v1.ConfigFile) { cf.Config.Labels[platform.LabelDistroName] = "ubuntu" }, reason: "target"},
		{name: "distro version mismatch", newRun: func(cf *v1.ConfigFile) { cf.Config.Labels[platform.LabelDistroVersion] = "13" }, reason: "target"},
		{name: "app has no distro, new base has one", app: func(cf *v1.ConfigFile) { delete(cf.Config.Labels, platform.LabelDistroName) }, reason: "target"},
		{name: "name not image or mirror", runName: "registry.test/other-run:latest", reason: "not the app's run image"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := rebaseRunImage(t, true)
			app := exportApp(t, run)
			if tc.app != nil {
				app = editConfig(t, app, tc.app)
			}
			newRun := patchedRunImage(t, run)
			if tc.newRun != nil {
				newRun = editConfig(t, newRun, tc.newRun)
			}
			runName := tc.runName
			if runName == "" {
				runName = "registry.test/run:latest"
			}
			in := RebaseInputs{App: app, NewRunImage: newRun, NewRunImageRef: newRunRef, NewRunImageName: runName}
			_, _, err := Rebase(context.Background(), in)
			var refused *RebaseRefusedError
			if !errors.As(err, &refused) || !strings.Contains(err.Error(), tc.reason) || !strings.Contains(err.Error(), "--force") {
				t.Fatalf("err = %v, want a refusal mentioning %q and --force", err, tc.reason)
			}
			if code := platform.ExitCode(err); code != platform.CodeRebaseError {
				t.Errorf("exit code %d, want %d", code, platform.CodeRebaseError)
			}

			var log strings.Builder
			in.Force, in.Log = true, &log
			img, rep, err := Rebase(context.Background(), in)
			if err != nil {
				t.Fatalf("with force: %v", err)
			}
			if err := validate.Image(img); err != nil {
				t.Fatalf("validate.Image: %v", err)
			}
			if len(rep.Warnings) != 1 || !strings.Contains(log.String(), "Warning: ") {
				t.Errorf("warnings %q, log %q", rep.Warnings, log.String())
			}
			meta, err := ReadLayersMetadata(img)
			if err != nil {
				t.Fatal(err)
			}
			if tc.runName != "" {
				// Forced onto an unlisted name: it becomes the run image, mirrors cleared.
				if meta.RunImage.Image != tc.runName || len(meta.RunImage.Mirrors) != 0 || meta.Stack == nil || meta.Stack.RunImage.Image != tc.runName {
					t.Errorf("runImage %+v stack %+v, want image %s without mirrors", meta.RunImage, meta.Stack, tc.runName)
				}
			} else if meta.RunImage.Image != "registry.test/run:latest" || len(meta.RunImage.Mirrors) != 1 {
				t.Errorf("runImage %+v changed by a forced target/rebasable override", meta.RunImage)
			}
			if cf, _ := newRun.ConfigFile(); cf != nil {
				got, _ := img.ConfigFile()
				if got.OS != cf.OS || got.Architecture != cf.Architecture || got.Variant != cf.Variant {
					t.Errorf("platform %s/%s/%s, want the new base's %s/%s/%s", got.OS, got.Architecture, got.Variant, cf.OS, cf.Architecture, cf.Variant)
				}
			}
		})
	}
}

// platform.md, rebaser: the top layer must be found; force does not help.
func TestRebaseTopLayerNotFound_Section5_8(t *testing.T) {
	run := rebaseRunImage(t, false)
	app := exportApp(t, run)
	meta, err := ReadLayersMetadata(app)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, top string }{
		{"unknown diffID", "sha256:" + strings.Repeat("c", 64)},
		{"empty", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := *meta
			m.RunImage.TopLayer = tc.top
			b, _ := jsonMarshal(m)
			broken := editConfig(t, app, func(cf *v1.ConfigFile) { cf.Config.Labels[platform.LabelLifecycleMetadata] = b })
			_, _, err := Rebase(context.Background(), RebaseInputs{App: broken, NewRunImage: patchedRunImage(t, run), NewRunImageRef: newRunRef, NewRunImageName: "registry.test/run", Force: true})
			if err == nil || !strings.Contains(err.Error(), "top layer") || platform.ExitCode(err) != platform.CodeRebaseError {
				t.Fatalf("err = %v (code %d), want top layer not found, code 72", err, platform.ExitCode(err))
			}
		})
	}
	noLabel := editConfig(t, app, func(cf *v1.ConfigFile) { delete(cf.Config.Labels, platform.LabelLifecycleMetadata) })
	if _, _, err := Rebase(context.Background(), RebaseInputs{App: noLabel, NewRunImage: run, NewRunImageName: "registry.test/run"}); err == nil || !strings.Contains(err.Error(), platform.LabelLifecycleMetadata) {
		t.Errorf("image without label: err = %v", err)
	}
}

// The output manifest keeps one media-type family, whatever the new base uses (issue 3 item 5).
func TestRebaseMediaTypeFamily_Section5_8(t *testing.T) {
	for _, tc := range []struct {
		name             string
		appOCI, newOCI   bool
		wantMT, wantLyMT types.MediaType
	}{
		{"docker app on oci base", false, true, types.DockerManifestSchema2, types.DockerLayer},
		{"oci app on docker base", true, false, types.OCIManifestSchema1, types.OCILayer},
		{"oci app on oci base", true, true, types.OCIManifestSchema1, types.OCILayer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := exportApp(t, rebaseRunImage(t, tc.appOCI))
			newRun := patchedRunImage(t, rebaseRunImage(t, tc.newOCI))
			img, _, err := Rebase(context.Background(), RebaseInputs{App: app, NewRunImage: newRun, NewRunImageRef: newRunRef, NewRunImageName: "registry.test/run"})
			if err != nil {
				t.Fatal(err)
			}
			if err := validate.Image(img); err != nil {
				t.Fatalf("validate.Image: %v", err)
			}
			m, err := img.Manifest()
			if err != nil {
				t.Fatal(err)
			}
			if m.MediaType != tc.wantMT {
				t.Errorf("manifest %s, want %s", m.MediaType, tc.wantMT)
			}
			appM, _ := app.Manifest()
			if m.Config.MediaType != appM.Config.MediaType {
				t.Errorf("config media type %s, want the app's %s", m.Config.MediaType, appM.Config.MediaType)
			}
			for i, l := range m.Layers {
				if l.MediaType != tc.wantLyMT {
					t.Errorf("layer %d media type %s, want %s", i, l.MediaType, tc.wantLyMT)
				}
			}
		})
	}
}

// Rebasing onto the base the app already has is reported up to date and changes nothing.
func TestRebaseUpToDateSameDigest_Section5_8(t *testing.T) {
	run := rebaseRunImage(t, false)
	app := exportApp(t, run)
	meta, _ := ReadLayersMetadata(app)
	img, rep, err := Rebase(context.Background(), RebaseInputs{App: app, NewRunImage: run, NewRunImageRef: meta.RunImage.Reference, NewRunImageName: meta.RunImage.Image})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.UpToDate {
		t.Error("UpToDate = false for the same base")
	}
	a, _ := app.Digest()
	b, _ := img.Digest()
	if a != b {
		t.Errorf("digest %s, want unchanged %s", b, a)
	}
}

func startTestRegistry(t testing.TB) (*testkit.Registry, string) {
	r := testkit.NewRegistry(t)
	return r, r.Host
}

// pushRebaseFixture pushes an app (on run) to host/app:latest and a patched run image to
// host/run:latest, with the app's label naming host/run.
func pushRebaseFixture(t testing.TB, ctx context.Context, host string, app, newRun v1.Image) {
	t.Helper()
	meta, err := ReadLayersMetadata(app)
	if err != nil {
		t.Fatal(err)
	}
	meta.RunImage.Image, meta.RunImage.Mirrors = host+"/run:latest", nil
	b, _ := jsonMarshal(*meta)
	app = editConfig(t, app, func(cf *v1.ConfigFile) { cf.Config.Labels[platform.LabelLifecycleMetadata] = b })
	for ref, img := range map[string]v1.Image{host + "/app:latest": app, host + "/run:latest": newRun} {
		if _, err := registry.Write(ctx, ref, img, registry.Options{}); err != nil {
			t.Fatal(err)
		}
	}
}

// Issue 3 item 5: a registry rebase uploads only the config and the manifest; layers of the
// new base in another repository of the same registry are not re-uploaded.
func TestRebaseRegistryUploadsOnlyConfigAndManifest_Section5_8(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	for _, tc := range []struct {
		name   string
		newOCI bool
	}{
		{"same family", false},
		{"oci base under docker app", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			rec, host := startTestRegistry(t)
			run := rebaseRunImage(t, false)
			newRun := patchedRunImage(t, run)
			if tc.newOCI {
				newRun = patchedRunImage(t, rebaseRunImage(t, true))
			}
			pushRebaseFixture(t, ctx, host, exportApp(t, run), newRun)
			rec.Reset()

			app, err := registry.Image(ctx, host+"/app:latest", registry.Options{})
			if err != nil {
				t.Fatal(err)
			}
			nr, err := registry.Image(ctx, host+"/run:latest", registry.Options{})
			if err != nil {
				t.Fatal(err)
			}
			d, _ := nr.Digest()
			img, _, err := Rebase(ctx, RebaseInputs{App: app, NewRunImage: nr, NewRunImageRef: host + "/run@" + d.String(), NewRunImageName: host + "/run:latest"})
			if err != nil {
				t.Fatal(err)
			}
			// Every layer still knows its repository, so remote.Write can mount instead of upload
			// on registries that keep blobs per repository.
			for i, l := range mustLayers(t, img) {
				if _, ok := l.(*remote.MountableLayer); !ok {
					t.Errorf("layer %d is %T, not mountable", i, l)
				}
			}
			if _, err := registry.Write(ctx, host+"/app:latest", img, registry.Options{}); err != nil {
				t.Fatal(err)
			}
			cfgName, _ := img.ConfigName()
			if blobs, manifests := rec.UploadedDigests(), rec.Count("PUT", "manifests"); !slices.Equal(blobs, []string{cfgName.String()}) || manifests != 1 {
				t.Errorf("uploaded blobs %v and %d manifests, want only config %s and 1 manifest", rec.UploadedDigests(), rec.Count("PUT", "manifests"), cfgName)
			}
			got, err := registry.Image(ctx, host+"/app:latest", registry.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := validate.Image(got); err != nil {
				t.Fatalf("validate.Image of pushed rebase: %v", err)
			}
			if mt, _ := got.MediaType(); mt != types.DockerManifestSchema2 {
				t.Errorf("pushed manifest %s, want the app's Docker family", mt)
			}
		})
	}
}

// BenchmarkRebase measures a registry rebase of a small app: read app and new run image
// manifests/configs, rebase, push config + manifest (target: ≤ 75 ms on 127.0.0.1).
func BenchmarkRebase(b *testing.B) {
	b.Setenv("DOCKER_CONFIG", b.TempDir())
	ctx := context.Background()
	_, host := startTestRegistry(b)
	run, err := random.Image(1024, 3)
	if err != nil {
		b.Fatal(err)
	}
	app := benchApp(b, run)
	l, _ := random.Layer(1024, types.DockerLayer)
	newRun, err := mutate.AppendLayers(run, l)
	if err != nil {
		b.Fatal(err)
	}
	pushRebaseFixture(b, ctx, host, app, newRun)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		app, err := registry.Image(ctx, host+"/app:latest", registry.Options{})
		if err != nil {
			b.Fatal(err)
		}
		nr, err := registry.Image(ctx, host+"/run:latest", registry.Options{})
		if err != nil {
			b.Fatal(err)
		}
		d, _ := nr.Digest()
		img, _, err := Rebase(ctx, RebaseInputs{App: app, NewRunImage: nr, NewRunImageRef: host + "/run@" + d.String(), NewRunImageName: host + "/run:latest"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := registry.Write(ctx, host+"/app:rebased", img, registry.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// benchApp is a stand-in app image: run plus five layers and a lifecycle label, without the
// exporter's fixture files (benchmarks have no *testing.T).
func benchApp(b *testing.B, run v1.Image) v1.Image {
	img := run
	for range 5 {
		l, _ := random.Layer(2048, types.DockerLayer)
		var err error
		if img, err = mutate.AppendLayers(img, l); err != nil {
			b.Fatal(err)
		}
	}
	cf, _ := run.ConfigFile()
	top := cf.RootFS.DiffIDs[len(cf.RootFS.DiffIDs)-1].String()
	lbl, _ := jsonMarshal(LayersMetadata{RunImage: RunImageForRebase{TopLayer: top, Reference: "x", Image: "run"}})
	return editConfig(b, img, func(cf *v1.ConfigFile) {
		cf.Config.Labels = map[string]string{platform.LabelLifecycleMetadata: lbl}
	})
}
