package builder

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/slipway/slipway/buildpack"
	"github.com/slipway/slipway/platform"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "builder.toml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const orderTOML = `
[[order]]
  [[order.group]]
  id = "example/simple"
  version = "1.0.0"
  [[order.group]]
  id = "example/other"
  optional = true
`

var wantOrder = buildpack.Order{{Group: []buildpack.GroupElement{
	{ID: "example/simple", Version: "1.0.0"},
	{ID: "example/other", Optional: true},
}}}

// docs/spec-notes.md, Builder image; docs/spec-notes.md, Builder labels: pack's builder.toml, current and legacy [stack] forms.
func TestReadConfig(t *testing.T) {
	tests := []struct {
		name      string
		toml      string
		wantBuild BuildConfig
		wantRun   []platform.RunImage
		wantBPs   []BuildpackConfig
	}{
		{
			name: "pack style",
			toml: `
description = "test builder"
[[buildpacks]]
id = "example/simple"
version = "1.0.0"
uri = "bp/simple"
[[buildpacks]]
uri = "file:///abs/other.tgz"
` + orderTOML + `
[build]
image = "example/build:1"
[[build.env]]
name = "PATH"
value = "/opt/bin"
suffix = "prepend"
delim = ":"
[[run.images]]
image = "example/run:1"
mirrors = ["mirror.example/run:1"]
[[run.images]]
image = "example/run-alt:1"
[lifecycle]
version = "0.21.0"
[[targets]]
os = "linux"
arch = "amd64"
`,
			wantBuild: BuildConfig{Image: "example/build:1", Env: []BuildEnv{{Name: "PATH", Value: "/opt/bin", Suffix: "prepend", Delim: ":"}}},
			wantRun:   []platform.RunImage{{Image: "example/run:1", Mirrors: []string{"mirror.example/run:1"}}, {Image: "example/run-alt:1"}},
			wantBPs:   []BuildpackConfig{{ID: "example/simple", Version: "1.0.0", URI: "bp/simple"}, {URI: "file:///abs/other.tgz"}},
		},
		{
			name: "legacy stack",
			toml: `
[[buildpacks]]
uri = "bp"
` + orderTOML + `
[stack]
id = "io.buildpacks.stacks.jammy"
build-image = "example/build:legacy"
run-image = "example/run:legacy"
run-image-mirrors = ["m1/run", "m2/run"]
`,
			wantBuild: BuildConfig{Image: "example/build:legacy"},
			wantRun:   []platform.RunImage{{Image: "example/run:legacy", Mirrors: []string{"m1/run", "m2/run"}}},
			wantBPs:   []BuildpackConfig{{URI: "bp"}},
		},
		{
			name: "stack agreeing with build and run",
			toml: orderTOML + `
[build]
image = "b"
[[run.images]]
image = "r"
[stack]
id = "s"
build-image = "b"
run-image = "r"
`,
			wantBuild: BuildConfig{Image: "b"},
			wantRun:   []platform.RunImage{{Image: "r"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := writeConfig(t, tc.toml)
			c, err := ReadConfig(p)
			if err != nil {
				t.Fatal(err)
			}
			if c.Dir != filepath.Dir(p) || c.Path != p {
				t.Errorf("Dir/Path = %s/%s", c.Dir, c.Path)
			}
			if !reflect.DeepEqual(c.Order, wantOrder) {
				t.Errorf("order = %+v", c.Order)
			}
			if !reflect.DeepEqual(c.Build, tc.wantBuild) {
				t.Errorf("build = %+v, want %+v", c.Build, tc.wantBuild)
			}
			if !reflect.DeepEqual(c.Run.Images, tc.wantRun) {
				t.Errorf("run = %+v, want %+v", c.Run.Images, tc.wantRun)
			}
			if !reflect.DeepEqual(c.Buildpacks, tc.wantBPs) {
				t.Errorf("buildpacks = %+v, want %+v", c.Buildpacks, tc.wantBPs)
			}
		})
	}
}

func TestReadConfigErrors(t *testing.T) {
	const images = "\n[build]\nimage = \"b\"\n[[run.images]]\nimage = \"r\"\n"
	tests := []struct {
		name string
		toml string
		want []string
	}{
		{"syntax error has line and column", "description = \"x\"\nfoo = = 1\n", []string{"builder.toml", "line 2", "column"}},
		{"type error has line", "description = \"x\"\n\n[build]\nimage = 3\n", []string{"builder.toml", "line 4"}},
		{"no build image", orderTOML + "[[run.images]]\nimage = \"r\"\n", []string{"builder.toml", "no build image: set [build] image"}},
		{"no run image", orderTOML + "[build]\nimage = \"b\"\n", []string{"builder.toml", "no run image"}},
		{"run image without image", orderTOML + "[build]\nimage = \"b\"\n[[run.images]]\nmirrors = [\"m\"]\n", []string{"[[run.images]] entry 1: set image"}},
		{"no order", images, []string{"builder.toml", "no [[order]]"}},
		{"empty group", "[[order]]\n" + images, []string{"[[order]] entry 1: empty group"}},
		{"group entry without id", "[[order]]\n[[order.group]]\nversion = \"1.0.0\"\n" + images, []string{"[[order.group]] entry 1: set id"}},
		{"buildpack without uri", "[[buildpacks]]\nid = \"a\"\n" + orderTOML + images, []string{"[[buildpacks]] entry 1 (a): set uri"}},
		{"buildpack with uri and image", "[[buildpacks]]\nuri = \"a\"\nimage = \"i\"\n" + orderTOML + images, []string{"not both"}},
		{"extensions", "[[extensions]]\nid = \"e\"\nuri = \"e\"\n" + orderTOML + images, []string{"builder.toml", "image extensions are not supported yet"}},
		{"order-extensions", "[[order-extensions]]\n[[order-extensions.group]]\nid = \"e\"\n" + orderTOML + images, []string{"image extensions are not supported yet"}},
		{"unknown key", "[[order]]\n[[order.groups]]\nid = \"a\"\n" + images, []string{"builder.toml", "unknown keys", "order.groups"}},
		{"stack build image differs", orderTOML + images + "[stack]\nbuild-image = \"other\"\n", []string{"[stack] build-image"}},
		{"stack run image differs", orderTOML + images + "[stack]\nrun-image = \"other\"\n", []string{"[stack] run-image"}},
		{"env without name", orderTOML + images + "[[build.env]]\nvalue = \"v\"\n", []string{"[[build.env]] entry 1: set name"}},
		{"env bad suffix", orderTOML + images + "[[build.env]]\nname = \"A\"\nsuffix = \"later\"\n", []string{"unknown suffix"}},
		{"env name escapes", orderTOML + images + "[[build.env]]\nname = \"../x\"\n", []string{"may not contain"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadConfig(writeConfig(t, tc.toml))
			if err == nil {
				t.Fatal("want error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "builder.toml")
		if _, err := ReadConfig(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Fatalf("want error naming %s, got %v", p, err)
		}
	})
}
