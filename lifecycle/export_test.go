package lifecycle

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/slipway/slipway/buildpack"
	"github.com/slipway/slipway/layer"
	"github.com/slipway/slipway/platform"
)

const (
	testUID = 1000
	testGID = 1001
)

func mkfile(t *testing.T, p, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// testRunImage is a two-layer run image of the given manifest family with a PATH and base labels.
func testRunImage(t *testing.T, oci bool) v1.Image {
	t.Helper()
	var img v1.Image
	if oci {
		img = mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
		for range 2 {
			l, err := random.Layer(512, types.OCILayer)
			if err != nil {
				t.Fatal(err)
			}
			if img, err = mutate.AppendLayers(img, l); err != nil {
				t.Fatal(err)
			}
		}
	} else {
		var err error
		if img, err = random.Image(512, 2); err != nil {
			t.Fatal(err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg := cf.Config
	cfg.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"}
	cfg.User = "1000:1001"
	cfg.Labels = map[string]string{"io.buildpacks.base.distro.name": "debian", "io.buildpacks.stack.id": "io.slipway.test"}
	img, err = mutate.Config(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

type exportFixture struct {
	layers, app, launcher string
	group                 []buildpack.GroupElement
}

// newExportFixture writes what the build phase leaves behind: metadata.toml, two buildpacks'
// layer dirs and TOMLs, a launch SBOM, and an app dir.
func newExportFixture(t *testing.T, metadataTOML string) exportFixture {
	t.Helper()
	root := t.TempDir()
	f := exportFixture{
		layers:   filepath.Join(root, "layers"),
		app:      filepath.Join(root, "workspace"),
		launcher: filepath.Join(root, "launcher"),
		group: []buildpack.GroupElement{
			{ID: "example/node", Version: "1.0.0", API: "0.12"},
			{ID: "example/py", Version: "2.0.0", API: "0.12"},
		},
	}
	mkfile(t, f.launcher, "launcher-binary")
	mkfile(t, filepath.Join(f.layers, "config", "metadata.toml"), metadataTOML)
	node := filepath.Join(f.layers, "example_node")
	mkfile(t, filepath.Join(node, "node.toml"), "[types]\nlaunch = true\ncache = true\n[metadata]\nversion = \"22.1.0\"\n")
	mkfile(t, filepath.Join(node, "node", "bin", "node"), "node-binary")
	if err := os.Symlink("/etc/passwd", filepath.Join(node, "node", "passwd")); err != nil {
		t.Fatal(err)
	}
	mkfile(t, filepath.Join(node, "deps.toml"), "[types]\nlaunch = true\n")
	mkfile(t, filepath.Join(node, "deps", "lib.js"), "deps")
	mkfile(t, filepath.Join(node, "buildonly.toml"), "[types]\nbuild = true\ncache = true\n")
	mkfile(t, filepath.Join(node, "buildonly", "tool"), "tool")
	mkfile(t, filepath.Join(node, "launch.toml"), "[[processes]]\ntype = \"web\"\ncommand = [\"node\"]\n")
	mkfile(t, filepath.Join(node, "store.toml"), "[metadata]\nruns = 3\n")
	mkfile(t, filepath.Join(f.layers, "example_py", "venv.toml"), "[types]\nlaunch = true\n")
	mkfile(t, filepath.Join(f.layers, "example_py", "venv", "pyvenv.cfg"), "home = /usr")
	mkfile(t, filepath.Join(f.layers, "sbom", "launch", "example_node", "sbom.cdx.json"), "{}")
	mkfile(t, filepath.Join(f.app, "index.js"), "app")
	mkfile(t, filepath.Join(f.app, "static", "a.css"), "css")
	mkfile(t, filepath.Join(f.app, "static", "img", "x.png"), "png")
	if err := os.Mkdir(filepath.Join(f.app, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../etc/shadow", filepath.Join(f.app, "escape")); err != nil {
		t.Fatal(err)
	}
	return f
}

const webWorkerMetadata = `buildpack-default-process-type = "web"
[[buildpacks]]
id = "example/node"
version = "1.0.0"
api = "0.12"
[[buildpacks]]
id = "example/py"
version = "2.0.0"
api = "0.12"
[[processes]]
type = "worker"
command = ["python", "worker.py"]
args = ["-v"]
direct = true
buildpack-id = "example/py"
[[processes]]
type = "web"
command = ["node", "index.js"]
direct = true
buildpack-id = "example/node"
[[labels]]
key = "org.example.team"
value = "apps"
`

func (f exportFixture) inputs(t *testing.T, run v1.Image) ExportInputs {
	return ExportInputs{
		LayersDir: f.layers, AppDir: f.app, Group: f.group,
		RunImage: run, RunImageRef: "registry.test/run@sha256:" + strings.Repeat("a", 64),
		RunImageName: "registry.test/run:latest", RunImageMirrors: []string{"mirror.test/run:latest"},
		LauncherPath: f.launcher, LauncherVersion: "0.1.0",
		ProjectMetadata: platform.ProjectMetadata{Source: &platform.ProjectSource{Type: "git", Version: map[string]any{"commit": "abc"}}},
		UID:             testUID, GID: testGID,
		PlatformAPI: "0.15",
		ScratchDir:  t.TempDir(),
	}
}

type tarEntry struct {
	h    *tar.Header
	body string
}

func layerEntries(t *testing.T, l v1.Layer) []tarEntry {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var out []tarEntry
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out = append(out, tarEntry{h, string(b)})
	}
}

func entryNames(es []tarEntry) []string {
	var n []string
	for _, e := range es {
		n = append(n, e.h.Name)
	}
	return n
}

// docs/spec-notes.md, Image layer order; platform.md, io.buildpacks.build.metadata (JSON); platform.md, Build Reproducibility: one export read back in detail, for both manifest families.
func TestExportImage(t *testing.T) {
	for _, tc := range []struct {
		name     string
		oci      bool
		wantMT   types.MediaType
		wantLyMT types.MediaType
	}{
		{"oci run image", true, types.OCIManifestSchema1, types.OCILayer},
		{"docker run image", false, types.DockerManifestSchema2, types.DockerLayer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newExportFixture(t, webWorkerMetadata)
			run := testRunImage(t, tc.oci)
			img, rep, err := Export(context.Background(), f.inputs(t, run))
			if err != nil {
				t.Fatal(err)
			}
			if err := validate.Image(img); err != nil {
				t.Fatalf("validate.Image: %v", err)
			}

			// docs/spec-notes.md, Image layer order layer order.
			var names []string
			for _, l := range rep.Layers {
				names = append(names, l.Name)
			}
			wantNames := []string{"example/node:deps", "example/node:node", "example/py:venv", "sbom", "slice-1", "launcher", "config", "process-types"}
			if !slices.Equal(names, wantNames) {
				t.Errorf("layers %v, want %v", names, wantNames)
			}
			layers, err := img.Layers()
			if err != nil {
				t.Fatal(err)
			}
			runLayers, _ := run.Layers()
			if len(layers) != len(runLayers)+len(wantNames) {
				t.Fatalf("%d layers, want %d", len(layers), len(runLayers)+len(wantNames))
			}
			for i, rl := range runLayers {
				a, _ := rl.DiffID()
				b, _ := layers[i].DiffID()
				if a != b {
					t.Errorf("layer %d is not the run image's", i)
				}
			}
			byName := map[string]v1.Layer{}
			for i, e := range rep.Layers {
				l := layers[len(runLayers)+i]
				if d, _ := l.DiffID(); d != e.DiffID {
					t.Errorf("report %s diffID %s, image has %s", e.Name, e.DiffID, d)
				}
				byName[e.Name] = l
			}

			// Media types follow the run image.
			if mt, _ := img.MediaType(); mt != tc.wantMT {
				t.Errorf("manifest media type %s, want %s", mt, tc.wantMT)
			}
			for _, l := range layers {
				if mt, _ := l.MediaType(); mt != tc.wantLyMT {
					t.Errorf("layer media type %s, want %s", mt, tc.wantLyMT)
				}
			}

			// platform.md, exporter (Outputs) config and history.
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			c := cf.Config
			if c.WorkingDir != "/workspace" || !slices.Equal(c.Entrypoint, []string{"/cnb/process/web"}) || len(c.Cmd) != 0 {
				t.Errorf("workdir %q entrypoint %q cmd %q", c.WorkingDir, c.Entrypoint, c.Cmd)
			}
			wantEnv := []string{"LANG=C.UTF-8", "CNB_LAYERS_DIR=/layers", "CNB_APP_DIR=/workspace",
				"CNB_PLATFORM_API=0.15", "CNB_DEPRECATION_MODE=quiet",
				"PATH=/cnb/process:/cnb/lifecycle:/usr/local/bin:/usr/bin:/bin"}
			if !slices.Equal(c.Env, wantEnv) {
				t.Errorf("env %q, want %q", c.Env, wantEnv)
			}
			if c.User != "1000:1001" {
				t.Errorf("user %q, run image's was kept? want 1000:1001", c.User)
			}
			if !cf.Created.Time.Equal(layer.Epoch()) {
				t.Errorf("created %v, want %v", cf.Created, layer.Epoch())
			}
			var createdBy []string
			for _, h := range cf.History[len(runLayers):] {
				createdBy = append(createdBy, h.CreatedBy)
			}
			wantHist := []string{
				"Layer: 'deps', Created by buildpack: example/node@1.0.0",
				"Layer: 'node', Created by buildpack: example/node@1.0.0",
				"Layer: 'venv', Created by buildpack: example/py@2.0.0",
				"Software Bill-of-Materials", "Application Slice: 1",
				"Buildpacks Application Launcher", "Buildpacks Launcher Config", "Buildpacks Process Types",
			}
			if !slices.Equal(createdBy, wantHist) {
				t.Errorf("history %q, want %q", createdBy, wantHist)
			}

			// platform.md, io.buildpacks.lifecycle.metadata (JSON) lifecycle metadata label.
			lbl := c.Labels
			var meta LayersMetadata
			if err := json.Unmarshal([]byte(lbl[platform.LabelLifecycleMetadata]), &meta); err != nil {
				t.Fatal(err)
			}
			sha := func(n string) string { d, _ := byName[n].DiffID(); return d.String() }
			if len(meta.Buildpacks) != 2 || meta.Buildpacks[0].ID != "example/node" || meta.Buildpacks[1].Version != "2.0.0" {
				t.Fatalf("buildpacks %+v", meta.Buildpacks)
			}
			node := meta.Buildpacks[0].Layers["node"]
			if node.SHA != sha("example/node:node") || !node.Launch || !node.Cache || node.Build || node.Data["version"] != "22.1.0" {
				t.Errorf("node layer metadata %+v", node)
			}
			if _, ok := meta.Buildpacks[0].Layers["buildonly"]; ok {
				t.Error("launch=false layer recorded in the label")
			}
			if s := meta.Buildpacks[0].Store; s == nil || s.Metadata["runs"] != float64(3) {
				t.Errorf("store %+v, want runs=3 (platform.md, Layer Restoration)", s)
			}
			if meta.SBOM == nil || meta.SBOM.SHA != sha("sbom") || meta.Launcher.SHA != sha("launcher") ||
				meta.Config.SHA != sha("config") || meta.ProcessTypes.SHA != sha("process-types") ||
				len(meta.App) != 1 || meta.App[0].SHA != sha("slice-1") {
				t.Errorf("layer shas %+v", meta)
			}
			top, _ := runLayers[len(runLayers)-1].DiffID()
			wantRun := RunImageForRebase{TopLayer: top.String(), Reference: "registry.test/run@sha256:" + strings.Repeat("a", 64),
				Image: "registry.test/run:latest", Mirrors: []string{"mirror.test/run:latest"}}
			if meta.RunImage.TopLayer != wantRun.TopLayer || meta.RunImage.Reference != wantRun.Reference ||
				meta.RunImage.Image != wantRun.Image || !slices.Equal(meta.RunImage.Mirrors, wantRun.Mirrors) {
				t.Errorf("runImage %+v, want %+v", meta.RunImage, wantRun)
			}
			if meta.Stack == nil || meta.Stack.RunImage.Image != wantRun.Image {
				t.Errorf("stack.runImage %+v", meta.Stack)
			}

			// platform.md, io.buildpacks.build.metadata (JSON) build metadata, project metadata, buildpack labels, base labels.
			var build map[string]any
			if err := json.Unmarshal([]byte(lbl[platform.LabelBuildMetadata]), &build); err != nil {
				t.Fatal(err)
			}
			procs := build["processes"].([]any)
			if len(procs) != 2 || procs[0].(map[string]any)["type"] != "web" {
				t.Errorf("processes not sorted by type: %v", procs)
			}
			w := procs[1].(map[string]any)
			if w["buildpackID"] != "example/py" || w["direct"] != true || len(w["command"].([]any)) != 2 || len(w["args"].([]any)) != 1 {
				t.Errorf("worker process %v", w)
			}
			if b, ok := build["bom"].([]any); !ok || len(b) != 0 {
				t.Errorf("bom %v, want []", build["bom"])
			}
			if build["buildpack-default-process-type"] != "web" || build["launcher"].(map[string]any)["version"] != "0.1.0" {
				t.Errorf("build label %v", build)
			}
			if len(build["buildpacks"].([]any)) != 2 {
				t.Errorf("buildpacks %v", build["buildpacks"])
			}
			if lbl[platform.LabelProjectMetadata] != `{"source":{"type":"git","version":{"commit":"abc"}}}` {
				t.Errorf("project label %s", lbl[platform.LabelProjectMetadata])
			}
			if lbl["org.example.team"] != "apps" || lbl["io.buildpacks.base.distro.name"] != "debian" || lbl["io.buildpacks.stack.id"] != "io.slipway.test" {
				t.Errorf("labels %v", lbl)
			}
			if _, ok := lbl["io.buildpacks.rebasable"]; ok {
				t.Error("io.buildpacks.rebasable written (docs/spec-notes.md, Rebasable label)")
			}

			// platform.md, Build Reproducibility tar entries.
			for _, l := range layers[len(runLayers):] {
				for _, e := range layerEntries(t, l) {
					if !e.h.ModTime.Equal(layer.Epoch()) || e.h.Uname != "" || e.h.Gname != "" || strings.HasPrefix(e.h.Name, "/") {
						t.Errorf("%s: mtime %v uname %q gname %q", e.h.Name, e.h.ModTime, e.h.Uname, e.h.Gname)
					}
				}
			}
			nodeEntries := layerEntries(t, byName["example/node:node"])
			wantNode := []string{"layers", "layers/example_node", "layers/example_node/node", "layers/example_node/node/bin",
				"layers/example_node/node/bin/node", "layers/example_node/node/passwd"}
			if got := entryNames(nodeEntries); !slices.Equal(got, wantNode) {
				t.Errorf("node layer %v, want %v", got, wantNode)
			}
			for _, e := range nodeEntries {
				if e.h.Uid != testUID || e.h.Gid != testGID {
					t.Errorf("%s owned %d:%d", e.h.Name, e.h.Uid, e.h.Gid)
				}
				if e.h.Name == "layers/example_node/node/passwd" && (e.h.Typeflag != tar.TypeSymlink || e.h.Linkname != "/etc/passwd") {
					t.Errorf("symlink out of the tree was followed: %+v", e.h)
				}
			}
			appEntries := layerEntries(t, byName["slice-1"])
			wantApp := []string{"workspace", "workspace/empty", "workspace/escape", "workspace/index.js", "workspace/static",
				"workspace/static/a.css", "workspace/static/img", "workspace/static/img/x.png"}
			if got := entryNames(appEntries); !slices.Equal(got, wantApp) {
				t.Errorf("app layer %v, want %v", got, wantApp)
			}
			launcherEntries := layerEntries(t, byName["launcher"])
			if l := launcherEntries[len(launcherEntries)-1]; l.h.Name != "cnb/lifecycle/launcher" || l.h.Uid != 0 || l.h.Mode != 0o755 || l.body != "launcher-binary" {
				t.Errorf("launcher entry %+v", l.h)
			}
			if got := entryNames(layerEntries(t, byName["config"])); !slices.Equal(got, []string{"layers", "layers/config", "layers/config/metadata.toml"}) {
				t.Errorf("config layer %v", got)
			}
			var links []string
			for _, e := range layerEntries(t, byName["process-types"]) {
				if e.h.Typeflag == tar.TypeSymlink {
					links = append(links, e.h.Name+"->"+e.h.Linkname)
					if e.h.Uid != 0 || e.h.Gid != 0 {
						t.Errorf("%s owned %d:%d, want root", e.h.Name, e.h.Uid, e.h.Gid)
					}
				}
			}
			if want := []string{"cnb/process/web->/cnb/lifecycle/launcher", "cnb/process/worker->/cnb/lifecycle/launcher"}; !slices.Equal(links, want) {
				t.Errorf("process links %v, want %v", links, want)
			}
		})
	}
}

// platform.md, Build Reproducibility: same inputs → same image digest; SOURCE_DATE_EPOCH changes it.
func TestExportTwiceSameDigest(t *testing.T) {
	f := newExportFixture(t, webWorkerMetadata)
	run := testRunImage(t, true)
	digest := func(created time.Time) v1.Hash {
		in := f.inputs(t, run)
		in.Created = created
		img, _, err := Export(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	a := digest(time.Time{})
	now := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(f.app, "index.js"), now, now); err != nil {
		t.Fatal(err)
	}
	if b := digest(time.Time{}); a != b {
		t.Errorf("export twice: %s then %s", a, b)
	}
	if c := digest(time.Unix(1700000000, 0)); c == a {
		t.Error("SOURCE_DATE_EPOCH did not change the digest")
	}
}

// buildpack.md, Launch Layers: a launch layer with a TOML and no dir reuses the previous image's layer.
func TestExportReusePreviousLayer(t *testing.T) {
	f := newExportFixture(t, webWorkerMetadata)
	run := testRunImage(t, false)
	prev, prevRep, err := Export(context.Background(), f.inputs(t, run))
	if err != nil {
		t.Fatal(err)
	}
	var prevDeps ExportedLayer
	for _, l := range prevRep.Layers {
		if l.Name == "example/node:deps" {
			prevDeps = l
		}
	}
	if err := os.RemoveAll(filepath.Join(f.layers, "example_node", "deps")); err != nil {
		t.Fatal(err)
	}

	t.Run("reused", func(t *testing.T) {
		in := f.inputs(t, run)
		in.PreviousImage = prev
		img, rep, err := Export(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		got := rep.Layers[0]
		if got.Name != "example/node:deps" || !got.Reused || got.DiffID != prevDeps.DiffID {
			t.Errorf("deps layer %+v, want reused %s", got, prevDeps.DiffID)
		}
		if err := validate.Image(img); err != nil {
			t.Error(err)
		}
		if d1, _ := prev.Digest(); d1 != mustDigest(t, img) {
			t.Error("reusing the same layer should give the same image")
		}
	})

	for _, tc := range []struct {
		name string
		prev v1.Image
		toml string
		want string
	}{
		{"no previous image", nil, "", "no previous image"},
		{"previous image without the layer", run, "", "does not record it"},
		{"cache=true without contents", prev, "[types]\nlaunch = true\ncache = true\n", "cache=true but has no contents"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.toml != "" {
				mkfile(t, filepath.Join(f.layers, "example_node", "deps.toml"), tc.toml)
				t.Cleanup(func() { mkfile(t, filepath.Join(f.layers, "example_node", "deps.toml"), "[types]\nlaunch = true\n") })
			}
			in := f.inputs(t, run)
			in.PreviousImage = tc.prev
			_, _, err := Export(context.Background(), in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if platform.ExitCode(err) != platform.CodeExportError {
				t.Errorf("exit code %d, want %d", platform.ExitCode(err), platform.CodeExportError)
			}
		})
	}
}

func mustDigest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// buildpack.md, Slice Layers; docs/spec-notes.md, Image layer order item 5: slices become layers in order; files are claimed once; a
// matched dir takes its children; the rest (with every dir) is the last layer.
func TestExportAppSlices(t *testing.T) {
	md := webWorkerMetadata + "[[slices]]\npaths = [\"static\"]\n[[slices]]\npaths = [\"static/img/*\", \"*.js\"]\n[[slices]]\npaths = [\"nomatch*\"]\n"
	f := newExportFixture(t, md)
	img, rep, err := Export(context.Background(), f.inputs(t, testRunImage(t, true)))
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	byName := map[string]v1.Layer{}
	for i, e := range rep.Layers {
		byName[e.Name] = layers[len(layers)-len(rep.Layers)+i]
	}
	want := map[string][]string{
		"slice-1": {"workspace", "workspace/static", "workspace/static/a.css", "workspace/static/img", "workspace/static/img/x.png"},
		"slice-2": {"workspace", "workspace/index.js"}, // static/img/x.png was claimed by slice 1
		"slice-3": {"workspace", "workspace/empty", "workspace/escape", "workspace/static", "workspace/static/img"},
	}
	for name, w := range want {
		l, ok := byName[name]
		if !ok {
			t.Fatalf("no layer %s in %+v", name, rep.Layers)
		}
		if got := entryNames(layerEntries(t, l)); !slices.Equal(got, w) {
			t.Errorf("%s: %v, want %v", name, got, w)
		}
	}
	if _, ok := byName["slice-4"]; ok {
		t.Error("an empty slice produced a layer")
	}
	cf, _ := img.ConfigFile()
	var meta LayersMetadata
	if err := json.Unmarshal([]byte(cf.Config.Labels[platform.LabelLifecycleMetadata]), &meta); err != nil {
		t.Fatal(err)
	}
	if len(meta.App) != 3 {
		t.Errorf("app shas %v, want 3", meta.App)
	}

	mkfile(t, filepath.Join(f.layers, "config", "metadata.toml"), webWorkerMetadata+"[[slices]]\npaths = [\"../outside\"]\n")
	if _, _, err := Export(context.Background(), f.inputs(t, testRunImage(t, true))); err == nil || !strings.Contains(err.Error(), "escapes the app dir") {
		t.Errorf("escaping slice: err = %v", err)
	}
}

// platform.md, exporter (Outputs): entrypoint selection.
func TestExportEntrypoint(t *testing.T) {
	noProcs := "[[buildpacks]]\nid = \"example/node\"\nversion = \"1.0.0\"\napi = \"0.12\"\n"
	for _, tc := range []struct {
		name, md, requested string
		want                string
		wantErr             string
		wantProcessLayer    bool
	}{
		{"buildpack default", webWorkerMetadata, "", "/cnb/process/web", "", true},
		{"requested type", webWorkerMetadata, "worker", "/cnb/process/worker", "", true},
		{"requested type missing", webWorkerMetadata, "cron", "", "available: web, worker", true},
		{"no processes", noProcs, "", "/cnb/lifecycle/launcher", "", false},
		{"default names a missing type", strings.Replace(webWorkerMetadata, `"web"`+"\n[[buildpacks]]", `"gone"`+"\n[[buildpacks]]", 1), "", "/cnb/lifecycle/launcher", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newExportFixture(t, tc.md)
			in := f.inputs(t, testRunImage(t, true))
			in.DefaultProcessType = tc.requested
			img, rep, err := Export(context.Background(), in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cf, _ := img.ConfigFile()
			if !slices.Equal(cf.Config.Entrypoint, []string{tc.want}) {
				t.Errorf("entrypoint %v, want %s", cf.Config.Entrypoint, tc.want)
			}
			if has := rep.Layers[len(rep.Layers)-1].Name == "process-types"; has != tc.wantProcessLayer {
				t.Errorf("process-types layer present = %v, want %v", has, tc.wantProcessLayer)
			}
		})
	}
}

// platform.md, exporter: the app and layers go in the image where the platform had them
// (-app, -layers), the working directory is the app directory, and the launcher finds both
// through CNB_APP_DIR and CNB_LAYERS_DIR. Tekton's tasks build at /workspace/source.
func TestExportAtPlatformDirs(t *testing.T) {
	f := newExportFixture(t, webWorkerMetadata)
	in := f.inputs(t, testRunImage(t, true))
	in.ImageAppDir, in.ImageLayersDir = "/workspace/source/", "/cnb-layers"
	img, _, err := Export(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.WorkingDir != "/workspace/source" {
		t.Errorf("WorkingDir %q, want /workspace/source", cf.Config.WorkingDir)
	}
	for _, kv := range []string{"CNB_APP_DIR=/workspace/source", "CNB_LAYERS_DIR=/cnb-layers"} {
		if !slices.Contains(cf.Config.Env, kv) {
			t.Errorf("Env %v lacks %s", cf.Config.Env, kv)
		}
	}
	var names []string
	for _, l := range mustLayers(t, img) {
		names = append(names, entryNames(layerEntries(t, l))...)
	}
	for _, want := range []string{"workspace/source/index.js", "workspace/source/static/a.css", "cnb-layers/example_node/node/bin/node",
		"cnb-layers/config/metadata.toml", "cnb-layers/sbom/launch/example_node/sbom.cdx.json"} {
		if !slices.Contains(names, want) {
			t.Errorf("no %s in the image", want)
		}
	}
	for _, n := range names {
		if strings.HasPrefix(n, "layers/") || n == "workspace/index.js" {
			t.Errorf("%s is at the default place, not where the platform had it", n)
		}
	}

	in.ImageAppDir, in.ImageLayersDir = "/", "/layers"
	if _, _, err := Export(context.Background(), in); err == nil || !strings.Contains(err.Error(), `app directory "/"`) {
		t.Errorf("app directory / gave %v, want an error naming it", err)
	}
}
