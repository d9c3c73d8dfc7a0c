package builder

import (
	"archive/tar"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/slipway/slipway/buildpack"
	"github.com/slipway/slipway/platform"
)

// testBuildImage is a one-layer build image with the CNB user in its Env and a label that a
// builder must keep (docs/spec-notes.md, Builder image).
func testBuildImage(t *testing.T) v1.Image {
	t.Helper()
	l := tarLayer(t, []tarEntry{{name: "etc/", typ: tar.TypeDir, mode: 0o755}, {name: "etc/os-release", body: "ID=debian\n"}})
	img, err := mutate.AppendLayers(mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON), l)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Env = []string{"PATH=/usr/bin:/bin", "CNB_USER_ID=1000", "CNB_GROUP_ID=1001"}
	cf.Config.Labels = map[string]string{"io.buildpacks.stack.id": "io.example.stack", "org.example.base": "kept"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// tarLayer makes an uncompressed-tar layer from entries.
func tarLayer(t *testing.T, entries []tarEntry) v1.Layer {
	t.Helper()
	p := writeArchive(t, filepath.Join(t.TempDir(), "layer.tar"), false, entries)
	l, err := tarball.LayerFromFile(p, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	// Hide tarball's Descriptor (an empty, non-nil annotation map) so validate.Image agrees.
	return struct{ v1.Layer }{l}
}

// fsEntry is what the flattened image filesystem holds at a path.
type fsEntry struct {
	typ      byte
	mode     int64
	uid, gid int
	link     string
	body     string
}

// imageFS flattens img (later layers win) into path → entry.
func imageFS(t *testing.T, img v1.Image) map[string]fsEntry {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	out := map[string]fsEntry{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		out[strings.TrimSuffix(h.Name, "/")] = fsEntry{typ: h.Typeflag, mode: h.Mode, uid: h.Uid, gid: h.Gid, link: h.Linkname, body: string(body)}
	}
}

// createTestBuilder runs the `builder create` code path on the fixture buildpacks.
func createTestBuilder(t *testing.T) (v1.Image, *Config) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "builder.toml")
	must(t, os.WriteFile(cfgPath, []byte(`
description = "test builder"
[[buildpacks]]
  uri = "`+abs(t, "testdata/composite")+`"
[[buildpacks]]
  uri = "`+abs(t, "testdata/simple")+`"
[[order]]
  [[order.group]]
    id = "example/composite"
[[order]]
  [[order.group]]
    id = "example/simple"
    version = "1.0.0"
    optional = true
[build]
  image = "example/build"
  [[build.env]]
    name = "JAVA_OPTS"
    value = "-Xmx1g"
    suffix = "append"
    delim = " "
[[run.images]]
  image = "example/run"
  mirrors = ["mirror.example/run"]
[[run.images]]
  image = "example/run-alt"
`), 0o644))
	cfg, err := ReadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	descs, err := FetchBuildpacks(ctx, cfg, filepath.Join(dir, "bps"))
	if err != nil {
		t.Fatal(err)
	}
	lc := filepath.Join(dir, "slipway")
	la := filepath.Join(dir, "launcher")
	must(t, os.WriteFile(lc, []byte("#!lifecycle"), 0o700))
	must(t, os.WriteFile(la, []byte("#!launcher"), 0o700))
	img, err := Create(ctx, CreateOptions{
		Config: cfg, Buildpacks: descs, BuildImage: testBuildImage(t),
		LifecycleBinary: lc, LauncherPath: la, Phases: []string{"detector", "builder"},
		Version: "0.1.0-test", ScratchDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return img, cfg
}

// docs/spec-notes.md, Builder image: the builder image's /cnb layout, owners, modes and config.
func TestCreateLayout(t *testing.T) {
	img, _ := createTestBuilder(t)
	if err := validate.Image(img); err != nil {
		t.Fatalf("validate.Image: %v", err)
	}
	files := imageFS(t, img)
	tests := []struct {
		name string
		path string
		want fsEntry // body checked only when set
	}{
		{"buildpack dir root-owned 0755", "cnb/buildpacks/example_simple/1.0.0", fsEntry{typ: tar.TypeDir, mode: 0o755}},
		{"bin/build executable", "cnb/buildpacks/example_simple/1.0.0/bin/build", fsEntry{typ: tar.TypeReg, mode: 0o755}},
		{"buildpack.toml 0644", "cnb/buildpacks/example_simple/1.0.0/buildpack.toml", fsEntry{typ: tar.TypeReg, mode: 0o644}},
		{"composite buildpack", "cnb/buildpacks/example_composite/2.0.0/buildpack.toml", fsEntry{typ: tar.TypeReg, mode: 0o644}},
		{"lifecycle binary", "cnb/lifecycle/lifecycle", fsEntry{typ: tar.TypeReg, mode: 0o755, body: "#!lifecycle"}},
		{"launcher binary", "cnb/lifecycle/launcher", fsEntry{typ: tar.TypeReg, mode: 0o755, body: "#!launcher"}},
		{"detector link", "cnb/lifecycle/detector", fsEntry{typ: tar.TypeSymlink, mode: 0o777, link: "lifecycle"}},
		{"builder link", "cnb/lifecycle/builder", fsEntry{typ: tar.TypeSymlink, mode: 0o777, link: "lifecycle"}},
		{"operator env with suffix", "cnb/build-config/env/JAVA_OPTS.append", fsEntry{typ: tar.TypeReg, mode: 0o644, body: "-Xmx1g"}},
		{"operator env delim", "cnb/build-config/env/JAVA_OPTS.delim", fsEntry{typ: tar.TypeReg, mode: 0o644, body: " "}},
		{"platform env dir", "platform/env", fsEntry{typ: tar.TypeDir, mode: 0o755}},
		{"workspace owned by CNB user", "workspace", fsEntry{typ: tar.TypeDir, mode: 0o755, uid: 1000, gid: 1001}},
		{"layers owned by CNB user", "layers", fsEntry{typ: tar.TypeDir, mode: 0o755, uid: 1000, gid: 1001}},
		{"base layer kept", "etc/os-release", fsEntry{typ: tar.TypeReg, mode: 0o644, body: "ID=debian\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := files[tc.path]
			if !ok {
				t.Fatalf("%s missing from the builder image", tc.path)
			}
			if tc.want.body == "" {
				got.body = ""
			}
			if got != tc.want {
				t.Errorf("%s = %+v, want %+v", tc.path, got, tc.want)
			}
		})
	}
	var order platform.OrderFile
	if _, err := tomlDecode(files["cnb/order.toml"].body, &order); err != nil {
		t.Fatal(err)
	}
	if len(order.Order) != 2 || order.Order[0].Group[0].Ref() != "example/composite@2.0.0" || !order.Order[1].Group[0].Optional {
		t.Errorf("order.toml = %+v", order)
	}
	var run platform.RunFile
	if _, err := tomlDecode(files["cnb/run.toml"].body, &run); err != nil {
		t.Fatal(err)
	}
	if len(run.Images) != 2 || run.Images[0].Mirrors[0] != "mirror.example/run" {
		t.Errorf("run.toml = %+v", run)
	}
	if !strings.Contains(files["cnb/stack.toml"].body, "[run-image]") {
		t.Errorf("stack.toml = %q", files["cnb/stack.toml"].body)
	}
	// docs/spec-notes.md, lifecycle.toml: lifecycle.toml lists the APIs.
	lt := files["cnb/lifecycle/lifecycle.toml"].body
	for _, want := range []string{"[apis.buildpack]", "[apis.platform]", `"0.12"`, `"0.15"`, `version = "0.1.0-test"`} {
		if !strings.Contains(lt, want) {
			t.Errorf("lifecycle.toml lacks %s:\n%s", want, lt)
		}
	}
	cf, _ := img.ConfigFile()
	if cf.Config.WorkingDir != "/layers" || cf.Config.User != "1000:1001" {
		t.Errorf("WorkingDir %q User %q", cf.Config.WorkingDir, cf.Config.User)
	}
	if !slices.Contains(cf.Config.Env, "CNB_USER_ID=1000") || cf.Config.Labels["org.example.base"] != "kept" {
		t.Errorf("build image Env/labels not kept: %v %v", cf.Config.Env, cf.Config.Labels)
	}
}

// docs/spec-notes.md, Builder labels: every builder label, field by field as pack writes them.
func TestCreateLabels(t *testing.T) {
	img, _ := createTestBuilder(t)
	cf, _ := img.ConfigFile()
	labels := cf.Config.Labels

	var md map[string]any
	must(t, json.Unmarshal([]byte(labels[platform.LabelBuilderMetadata]), &md))
	get := func(v any, keys ...string) any {
		for _, k := range keys {
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		}
		return v
	}
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"description", get(md, "description"), "test builder"},
		{"createdBy.name", get(md, "createdBy", "name"), "Slipway"},
		{"createdBy.version", get(md, "createdBy", "version"), "0.1.0-test"},
		{"lifecycle.version", get(md, "lifecycle", "version"), "0.1.0-test"},
		{"lifecycle.api.buildpack", get(md, "lifecycle", "api", "buildpack"), "0.7"},
		{"lifecycle.api.platform", get(md, "lifecycle", "api", "platform"), "0.7"},
		{"lifecycle.apis.platform.deprecated", get(md, "lifecycle", "apis", "platform", "deprecated"), []any{}},
		{"stack.runImage.image", get(md, "stack", "runImage", "image"), "example/run"},
		{"stack.runImage.mirrors", get(md, "stack", "runImage", "mirrors"), []any{"mirror.example/run"}},
		{"images", get(md, "images"), []any{
			map[string]any{"image": "example/run", "mirrors": []any{"mirror.example/run"}},
			map[string]any{"image": "example/run-alt"},
		}},
		{"buildpacks", get(md, "buildpacks"), []any{
			map[string]any{"id": "example/composite", "version": "2.0.0"},
			map[string]any{"id": "example/simple", "version": "1.0.0"},
		}},
		{"stack id from build image", labels[platform.LabelStackID], "io.example.stack"},
		{"order", labels[platform.LabelBuildpackOrder], `[{"group":[{"id":"example/composite","version":"2.0.0"}]},{"group":[{"id":"example/simple","version":"1.0.0","optional":true}]}]`},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !reflect.DeepEqual(c.got, c.want) {
				t.Errorf("got %#v, want %#v", c.got, c.want)
			}
		})
	}
	if s, _ := get(md, "lifecycle", "apis", "buildpack", "supported").([]any); !slices.Contains(s, any("0.12")) {
		t.Errorf("lifecycle.apis.buildpack.supported = %v", s)
	}

	t.Run("layers", func(t *testing.T) {
		var mods map[string]map[string]map[string]any
		must(t, json.Unmarshal([]byte(labels[platform.LabelBuildpackLayers]), &mods))
		simple := mods["example/simple"]["1.0.0"]
		comp := mods["example/composite"]["2.0.0"]
		if simple["api"] != "0.12" || comp["api"] != "0.12" {
			t.Errorf("api: %v %v", simple["api"], comp["api"])
		}
		wantOrder := []any{map[string]any{"group": []any{map[string]any{"id": "example/simple", "version": "1.0.0"}}}}
		if !reflect.DeepEqual(comp["order"], wantOrder) {
			t.Errorf("composite order = %#v", comp["order"])
		}
		for _, m := range []map[string]any{simple, comp} {
			h, err := v1.NewHash(m["layerDiffID"].(string))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := img.LayerByDiffID(h); err != nil {
				t.Errorf("layerDiffID %s is not a layer of the image", h)
			}
		}
	})
}

// Builders are image producers: building twice gives the same digest (docs/architecture.md, "Tests").
func TestCreateReproducible(t *testing.T) {
	a, _ := createTestBuilder(t)
	b, _ := createTestBuilder(t)
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Errorf("digests differ: %s vs %s", da, db)
	}
}

// docs/spec-notes.md, Builder image; docs/spec-notes.md, Builder labels: a builder made by Create reads back with FromImage.
func TestFromImageRoundTrip(t *testing.T) {
	img, cfg := createTestBuilder(t)
	dest := filepath.Join(t.TempDir(), "buildpacks")
	got, err := FromImage(context.Background(), img, dest)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Order, cfg.Order) {
		t.Errorf("order %+v, want %+v", got.Order, cfg.Order)
	}
	if !reflect.DeepEqual(got.Run.Images, cfg.Run.Images) {
		t.Errorf("run images %+v, want %+v", got.Run.Images, cfg.Run.Images)
	}
	if got.Description != "test builder" || got.Stack.ID != "io.example.stack" {
		t.Errorf("description %q stack %q", got.Description, got.Stack.ID)
	}
	if len(got.Buildpacks) != 2 {
		t.Fatalf("buildpacks %+v", got.Buildpacks)
	}
	bin := filepath.Join(dest, "example_simple", "1.0.0", "bin", "build")
	if out, err := exec.Command(bin).CombinedOutput(); err != nil || string(out) != "simple build\n" {
		t.Errorf("run extracted %s: %v %q", bin, err, out)
	}
	if _, err := buildpack.ReadDescriptor(filepath.Join(dest, "example_composite", "2.0.0")); err != nil {
		t.Error(err)
	}
}

// A builder in pack's format, built by hand from the label description of docs/spec-notes.md, Builder labels:
// FromImage must read what `pack builder create` writes, old and new.
func TestFromImagePackStyle(t *testing.T) {
	bpToml := "api = \"0.10\"\n[buildpack]\nid = \"acme/go\"\nversion = \"0.5.0\"\n[[stacks]]\nid = \"*\"\n"
	bpLayer := tarLayer(t, []tarEntry{
		{name: "/cnb/", typ: tar.TypeDir, mode: 0o755},
		{name: "/cnb/buildpacks/", typ: tar.TypeDir, mode: 0o755},
		{name: "/cnb/buildpacks/acme_go/", typ: tar.TypeDir, mode: 0o755},
		{name: "/cnb/buildpacks/acme_go/0.5.0/", typ: tar.TypeDir, mode: 0o755},
		{name: "/cnb/buildpacks/acme_go/0.5.0/buildpack.toml", body: bpToml},
		{name: "/cnb/buildpacks/acme_go/0.5.0/bin/", typ: tar.TypeDir, mode: 0o755},
		{name: "/cnb/buildpacks/acme_go/0.5.0/bin/detect", body: "#!/bin/sh\necho go detect\n", mode: 0o755},
		{name: "/cnb/buildpacks/acme_go/0.5.0/bin/build", typ: tar.TypeLink, link: "/cnb/buildpacks/acme_go/0.5.0/bin/detect"},
	})
	other := tarLayer(t, []tarEntry{{name: "/cnb/order.toml", body: "[[order]]\n"}})
	base := testBuildImage(t)
	img, err := mutate.AppendLayers(base, bpLayer, other)
	if err != nil {
		t.Fatal(err)
	}
	diffID, _ := bpLayer.DiffID()
	layersLabel := `{"acme/go":{"0.5.0":{"api":"0.10","stacks":[{"id":"*"}],"targets":[{"os":"linux","arch":"amd64","distributions":[{"name":"ubuntu","versions":["22.04"]}]}],"layerDiffID":"` + diffID.String() + `","homepage":"https://acme.example/go"}}}`
	orderLabel := `[{"group":[{"id":"acme/go","version":"0.5.0"}]}]`
	tests := []struct {
		name     string
		metadata string
		wantRun  []platform.RunImage
	}{
		{
			name:     "pack 0.30+ with images",
			metadata: `{"description":"pack builder","buildpacks":[{"id":"acme/go","version":"0.5.0","homepage":"https://acme.example/go"}],"extensions":[],"stack":{"runImage":{"image":"acme/run","mirrors":["m.example/run"]}},"images":[{"image":"acme/run","mirrors":["m.example/run"]}],"lifecycle":{"version":"0.21.0","api":{"buildpack":"0.2","platform":"0.3"},"apis":{"buildpack":{"deprecated":[],"supported":["0.2","0.12"]},"platform":{"deprecated":[],"supported":["0.3","0.15"]}}},"createdBy":{"name":"Pack CLI","version":"0.38.0"}}`,
			wantRun:  []platform.RunImage{{Image: "acme/run", Mirrors: []string{"m.example/run"}}},
		},
		{
			name:     "older pack with only stack.runImage",
			metadata: `{"description":"","buildpacks":[{"id":"acme/go","version":"0.5.0"}],"stack":{"runImage":{"image":"acme/run-old","mirrors":null}},"lifecycle":{"version":"0.17.0","api":{"buildpack":"0.2","platform":"0.3"}},"createdBy":{"name":"Pack CLI","version":"0.29.0"}}`,
			wantRun:  []platform.RunImage{{Image: "acme/run-old"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cf, _ := img.ConfigFile()
			cf = cf.DeepCopy()
			cf.Config.Labels = map[string]string{
				platform.LabelBuilderMetadata: tc.metadata,
				platform.LabelBuildpackOrder:  orderLabel,
				platform.LabelBuildpackLayers: layersLabel,
				platform.LabelStackID:         "io.buildpacks.stacks.jammy",
			}
			pimg, err := mutate.ConfigFile(img, cf)
			if err != nil {
				t.Fatal(err)
			}
			dest := t.TempDir()
			got, err := FromImage(context.Background(), pimg, dest)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Run.Images, tc.wantRun) {
				t.Errorf("run images %+v, want %+v", got.Run.Images, tc.wantRun)
			}
			if len(got.Order) != 1 || got.Order[0].Group[0].Ref() != "acme/go@0.5.0" {
				t.Errorf("order %+v", got.Order)
			}
			if got.Stack.ID != "io.buildpacks.stacks.jammy" {
				t.Errorf("stack id %q", got.Stack.ID)
			}
			build := filepath.Join(dest, "acme_go", "0.5.0", "bin", "build")
			if out, err := exec.Command(build).CombinedOutput(); err != nil || string(out) != "go detect\n" {
				t.Errorf("hard-linked bin/build: %v %q", err, out)
			}
			if _, err := os.Stat(filepath.Join(dest, "order.toml")); err == nil {
				t.Error("a file outside /cnb/buildpacks was extracted")
			}
		})
	}
}

func TestFromImageErrors(t *testing.T) {
	base := testBuildImage(t)
	withLabels := func(l map[string]string) v1.Image {
		cf, _ := base.ConfigFile()
		cf = cf.DeepCopy()
		cf.Config.Labels = l
		img, err := mutate.ConfigFile(base, cf)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	tests := []struct {
		name string
		img  v1.Image
		want string
	}{
		{"not a builder", base, "not a builder image"},
		{"bad metadata JSON", withLabels(map[string]string{platform.LabelBuilderMetadata: "{"}), "not valid JSON"},
		{"layer missing", withLabels(map[string]string{platform.LabelBuilderMetadata: "{}", platform.LabelBuildpackLayers: `{"a/b":{"1.0.0":{"api":"0.12","layerDiffID":"sha256:` + strings.Repeat("0", 64) + `"}}}`}), "is not in the image"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FromImage(context.Background(), tc.img, t.TempDir())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func tomlDecode(s string, v any) (toml.MetaData, error) { return toml.Decode(s, v) }
