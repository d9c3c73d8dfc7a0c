package buildpack

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/slipway/slipway/launch"
	"github.com/slipway/slipway/tomlfile"
)

// buildTestBP describes a fixture buildpack whose bin/build is testdata/build/bin-build.sh:
// it records its env, args, working dir and plan under <bp>/seen/, copies <bp>/out/ into its
// layers dir and then sources <bp>/extra.sh.
type buildTestBP struct {
	id, version, api string
	clearEnv         bool
	sbomFormats      []string
	out              map[string]string
	extra            string
}

func newBuildTestBP(t *testing.T, root string, bp buildTestBP) *Descriptor {
	t.Helper()
	if bp.version == "" {
		bp.version = "1.0.0"
	}
	if bp.api == "" {
		bp.api = "0.12"
	}
	dir := filepath.Join(root, EscapedID(bp.id), bp.version)
	desc := "api = \"" + bp.api + "\"\n[buildpack]\nid = \"" + bp.id + "\"\nversion = \"" + bp.version + "\"\n"
	if bp.clearEnv {
		desc += "clear-env = true\n"
	}
	if len(bp.sbomFormats) > 0 {
		desc += "sbom-formats = [\"" + strings.Join(bp.sbomFormats, "\", \"") + "\"]\n"
	}
	buildTestWrite(t, filepath.Join(dir, "buildpack.toml"), desc)
	script, err := os.ReadFile(filepath.Join("testdata", "build", "bin-build.sh"))
	if err != nil {
		t.Fatal(err)
	}
	buildTestWrite(t, filepath.Join(dir, "bin", "build"), string(script))
	if err := os.Chmod(filepath.Join(dir, "bin", "build"), 0o755); err != nil {
		t.Fatal(err)
	}
	for rel, content := range bp.out {
		buildTestWrite(t, filepath.Join(dir, "out", rel), content)
	}
	if bp.extra != "" {
		buildTestWrite(t, filepath.Join(dir, "extra.sh"), bp.extra)
	}
	d, err := ReadDescriptor(dir)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func buildTestWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// buildTestSeenEnv parses the NUL-separated env the fixture's bin/build recorded.
func buildTestSeenEnv(t *testing.T, d *Descriptor) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(d.Dir, "seen", "env"))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, kv := range strings.Split(string(b), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

type buildTestDirs struct{ app, layers, platform, buildConfig, bps string }

func newBuildTestDirs(t *testing.T) buildTestDirs {
	root := t.TempDir()
	d := buildTestDirs{
		app: filepath.Join(root, "workspace"), layers: filepath.Join(root, "layers"),
		platform: filepath.Join(root, "platform"), buildConfig: filepath.Join(root, "build-config"),
		bps: filepath.Join(root, "buildpacks"),
	}
	for _, p := range []string{d.app, d.layers, d.platform, d.buildConfig, d.bps} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func (dirs buildTestDirs) config(env []string) BuildConfig {
	return BuildConfig{
		AppDir: dirs.app, LayersDir: dirs.layers, PlatformDir: dirs.platform, BuildConfigDir: dirs.buildConfig,
		Env: launch.NewEnv(env, launch.BuildRootDirs, launch.BuildEnvIncludeList),
	}
}

// buildpack.md, Build: CNB_* variables by Buildpack API, positional args, working dir.
func TestBuildEnvVarsPerAPI_2_5_1(t *testing.T) {
	target := Target{OS: "linux", Arch: "arm64", Distros: []Distro{{Name: "ubuntu", Version: "24.04"}}}
	cases := []struct {
		api     string
		present []string
		absent  []string
	}{
		{"0.7", []string{"CNB_BUILDPACK_DIR"}, []string{"CNB_LAYERS_DIR", "CNB_BP_PLAN_PATH", "CNB_PLATFORM_DIR", "CNB_TARGET_OS", "CNB_EXEC_ENV"}},
		{"0.8", []string{"CNB_BUILDPACK_DIR", "CNB_LAYERS_DIR", "CNB_BP_PLAN_PATH", "CNB_PLATFORM_DIR"}, []string{"CNB_TARGET_OS", "CNB_EXEC_ENV"}},
		{"0.10", []string{"CNB_LAYERS_DIR", "CNB_TARGET_OS", "CNB_TARGET_ARCH", "CNB_TARGET_DISTRO_NAME", "CNB_TARGET_DISTRO_VERSION"}, []string{"CNB_TARGET_ARCH_VARIANT", "CNB_EXEC_ENV"}},
		{"0.12", []string{"CNB_LAYERS_DIR", "CNB_TARGET_OS", "CNB_EXEC_ENV"}, []string{"CNB_TARGET_ARCH_VARIANT"}},
	}
	for _, tc := range cases {
		t.Run("B"+tc.api, func(t *testing.T) {
			dirs := newBuildTestDirs(t)
			d := newBuildTestBP(t, dirs.bps, buildTestBP{id: "example/env", api: tc.api})
			cfg := dirs.config(nil)
			cfg.Target, cfg.ExecEnv = target, "test"
			if _, err := d.Build(context.Background(), cfg); err != nil {
				t.Fatal(err)
			}
			env := buildTestSeenEnv(t, d)
			for _, k := range tc.present {
				if _, ok := env[k]; !ok {
					t.Errorf("%s not set", k)
				}
			}
			for _, k := range tc.absent {
				if v, ok := env[k]; ok {
					t.Errorf("%s=%q set, want absent", k, v)
				}
			}
			bpLayers := filepath.Join(dirs.layers, "example_env")
			if v, ok := env["CNB_LAYERS_DIR"]; ok && v != bpLayers {
				t.Errorf("CNB_LAYERS_DIR = %q, want %q", v, bpLayers)
			}
			if v, ok := env["CNB_TARGET_ARCH"]; ok && v != "arm64" {
				t.Errorf("CNB_TARGET_ARCH = %q", v)
			}
			if v, ok := env["CNB_EXEC_ENV"]; ok && v != "test" {
				t.Errorf("CNB_EXEC_ENV = %q", v)
			}
			args, _ := os.ReadFile(filepath.Join(d.Dir, "seen", "args"))
			lines := strings.Split(strings.TrimSpace(string(args)), "\n")
			if len(lines) != 3 || lines[0] != bpLayers || lines[1] != dirs.platform || filepath.Base(lines[2]) != "plan.toml" {
				t.Errorf("args = %q, want <layers-bp> <platform> <plan>", lines)
			}
			pwd, _ := os.ReadFile(filepath.Join(d.Dir, "seen", "pwd"))
			if strings.TrimSpace(string(pwd)) != dirs.app {
				t.Errorf("working dir = %q, want %q", pwd, dirs.app)
			}
		})
	}
}

// docs/spec-notes.md, Build environment; platform.md, Operator-Defined Variables: include-list, user env (prepend for path vars, byte for byte),
// clear-env, operator env (no suffix = default) applied after the user env.
func TestBuildEnvPlatformOperatorClearEnv_2_6(t *testing.T) {
	cases := []struct {
		name     string
		clearEnv bool
		want     map[string]string
		absent   []string
	}{
		{
			name: "user env applied",
			want: map[string]string{
				"HOME": "/home/cnb", "USER_VAR": "from-user\n", "PATH": "/user/bin:/usr/bin",
				"OP_DEFAULT": "op-default", "OP_OVERRIDE": "op", "USER_THEN_OP_DEFAULT": "user",
			},
			absent: []string{"SECRET_TOKEN"},
		},
		{
			name:     "clear-env skips user env but keeps operator env",
			clearEnv: true,
			want: map[string]string{
				"HOME": "/home/cnb", "PATH": "/usr/bin", "OP_DEFAULT": "op-default",
				"OP_OVERRIDE": "op", "USER_THEN_OP_DEFAULT": "op",
			},
			absent: []string{"USER_VAR", "SECRET_TOKEN"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dirs := newBuildTestDirs(t)
			buildTestWrite(t, filepath.Join(dirs.platform, "env", "USER_VAR"), "from-user\n")
			buildTestWrite(t, filepath.Join(dirs.platform, "env", "PATH"), "/user/bin")
			buildTestWrite(t, filepath.Join(dirs.platform, "env", "USER_THEN_OP_DEFAULT"), "user")
			buildTestWrite(t, filepath.Join(dirs.buildConfig, "env", "OP_DEFAULT"), "op-default")
			buildTestWrite(t, filepath.Join(dirs.buildConfig, "env", "OP_OVERRIDE.override"), "op")
			buildTestWrite(t, filepath.Join(dirs.buildConfig, "env", "USER_THEN_OP_DEFAULT.default"), "op")
			buildTestWrite(t, filepath.Join(dirs.buildConfig, "env", "HOME"), "/op-home")
			d := newBuildTestBP(t, dirs.bps, buildTestBP{id: "env", clearEnv: tc.clearEnv})
			cfg := dirs.config([]string{"HOME=/home/cnb", "PATH=/usr/bin", "SECRET_TOKEN=x", "OP_OVERRIDE=builder"})
			if _, err := d.Build(context.Background(), cfg); err != nil {
				t.Fatal(err)
			}
			env := buildTestSeenEnv(t, d)
			for k, v := range tc.want {
				if env[k] != v {
					t.Errorf("%s = %q, want %q", k, env[k], v)
				}
			}
			for _, k := range tc.absent {
				if _, ok := env[k]; ok {
					t.Errorf("%s reached the buildpack", k)
				}
			}
			if cfg.Env.Get("USER_VAR") != "" {
				t.Error("Build modified the caller's env")
			}
		})
	}
}

// buildpack.md, Layer Content Metadata (TOML); buildpack.md, Ignored Layers; buildpack.md, Layers: layer TOML flags, .ignore renaming, invalid names.
func TestBuildLayerTOML_3_1(t *testing.T) {
	cases := []struct {
		name    string
		out     map[string]string
		wantErr string
		check   func(t *testing.T, bpLayers string, res *BuildResult)
	}{
		{
			name: "flags under [types]",
			out: map[string]string{
				"deps.toml":      "[types]\nlaunch = true\ncache = true\n[metadata]\nversion = \"1.2\"\n",
				"deps/bin/tool":  "x",
				"tools.toml":     "[types]\nbuild = true\n",
				"tools/bin/tool": "x",
			},
			check: func(t *testing.T, _ string, res *BuildResult) {
				if len(res.Layers) != 2 || res.Layers[0].Name != "deps" || res.Layers[1].Name != "tools" {
					t.Fatalf("layers = %+v", res.Layers)
				}
				if got := res.Layers[0].Types; got != (LayerTypes{Launch: true, Cache: true}) {
					t.Errorf("deps types = %+v", got)
				}
				if res.Layers[0].Metadata["version"] != "1.2" {
					t.Errorf("deps metadata = %v", res.Layers[0].Metadata)
				}
			},
		},
		{
			name: "all flags false renames the dir to .ignore (buildpack.md, Ignored Layers)",
			out:  map[string]string{"tmp.toml": "[types]\n", "tmp/file": "x", "kept.toml": "[types]\nlaunch = true\n", "kept/f": "x"},
			check: func(t *testing.T, bpLayers string, _ *BuildResult) {
				if _, err := os.Stat(filepath.Join(bpLayers, "tmp.ignore", "file")); err != nil {
					t.Errorf("tmp not renamed to tmp.ignore: %v", err)
				}
				if _, err := os.Stat(filepath.Join(bpLayers, "tmp")); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("tmp still exists: %v", err)
				}
				if _, err := os.Stat(filepath.Join(bpLayers, "kept", "f")); err != nil {
					t.Errorf("launch layer renamed: %v", err)
				}
			},
		},
		{
			name:    "top-level flags are an error",
			out:     map[string]string{"deps.toml": "launch = true\n"},
			wantErr: "[types] table",
		},
		{
			name:    "layer dir named launch is rejected (buildpack.md, Layers)",
			out:     map[string]string{"launch/file": "x"},
			wantErr: `layer name "launch" is reserved`,
		},
		{
			name:    "layer named store is rejected (buildpack.md, Layers)",
			out:     map[string]string{"store/file": "x", "store.toml": "[metadata]\n"},
			wantErr: `layer name "store" is reserved`,
		},
		{
			name:    "hidden layer name is rejected",
			out:     map[string]string{".hidden.toml": "[types]\nbuild = true\n"},
			wantErr: "must not start with '.'",
		},
		{
			name:    "dot-dot in layer name is rejected",
			out:     map[string]string{"a..b.toml": "[types]\nbuild = true\n"},
			wantErr: "must not contain",
		},
		{
			name:    "malformed layer toml names file and line",
			out:     map[string]string{"deps.toml": "[types]\nlaunch = true\ncache = \n"},
			wantErr: "deps.toml: line 3",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dirs := newBuildTestDirs(t)
			d := newBuildTestBP(t, dirs.bps, buildTestBP{id: "layers", out: tc.out})
			res, err := d.Build(context.Background(), dirs.config(nil))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, filepath.Join(dirs.layers, "layers"), res)
		})
	}
}

// buildpack.md, launch.toml (TOML): launch.toml processes per Buildpack API.
func TestBuildLaunchTOML_3_8(t *testing.T) {
	cases := []struct {
		name, api, launchTOML string
		want                  []launch.Process
		wantWarn              string
		wantErr               string
	}{
		{
			name: "B0.7 string command, shell unless direct", api: "0.7",
			launchTOML: "[[processes]]\ntype = \"web\"\ncommand = \"node server.js\"\ndefault = true\n" +
				"[[processes]]\ntype = \"worker\"\ncommand = \"worker\"\nargs = [\"-v\"]\ndirect = true\n",
			want: []launch.Process{
				{Type: "web", Command: []string{"node server.js"}, Args: []string{}, Default: true, BuildpackID: "p"},
				{Type: "worker", Command: []string{"worker"}, Args: []string{"-v"}, Direct: true, BuildpackID: "p"},
			},
		},
		{
			name: "B0.7 working-dir ignored with a warning", api: "0.7",
			launchTOML: "[[processes]]\ntype = \"web\"\ncommand = \"x\"\nworking-dir = \"/w\"\n",
			want:       []launch.Process{{Type: "web", Command: []string{"x"}, Args: []string{}, BuildpackID: "p"}},
			wantWarn:   "working-dir",
		},
		{
			name: "B0.12 array command, args, working-dir, exec-env", api: "0.12",
			launchTOML: "[[processes]]\ntype = \"web\"\ncommand = [\"node\", \"--enable-x\"]\nargs = [\"server.js\"]\n" +
				"working-dir = \"/workspace/app\"\nexec-env = [\"production\"]\ndefault = true\n",
			want: []launch.Process{{
				Type: "web", Command: []string{"node", "--enable-x"}, Args: []string{"server.js"}, Direct: true,
				Default: true, BuildpackID: "p", WorkingDir: "/workspace/app", ExecEnv: []string{"production"},
			}},
		},
		{
			name: "B0.11 drops exec-env", api: "0.11",
			launchTOML: "[[processes]]\ntype = \"web\"\ncommand = [\"x\"]\nexec-env = [\"production\"]\n",
			want:       []launch.Process{{Type: "web", Command: []string{"x"}, Args: []string{}, Direct: true, BuildpackID: "p"}},
		},
		{
			name: "B0.9 direct is an error", api: "0.9",
			launchTOML: "[[processes]]\ntype = \"web\"\ncommand = [\"x\"]\ndirect = false\n",
			wantErr:    "direct is not allowed",
		},
		{
			name: "B0.12 string command is an error", api: "0.12",
			launchTOML: "[[processes]]\ntype = \"web\"\ncommand = \"x\"\n",
			wantErr:    "non-empty array",
		},
		{
			name: "B0.7 array command is an error", api: "0.7",
			launchTOML: "[[processes]]\ntype = \"web\"\ncommand = [\"x\"]\n",
			wantErr:    "non-empty string",
		},
		{
			name: "two defaults in one buildpack", api: "0.12",
			launchTOML: "[[processes]]\ntype = \"a\"\ncommand = [\"x\"]\ndefault = true\n[[processes]]\ntype = \"b\"\ncommand = [\"x\"]\ndefault = true\n",
			wantErr:    "both default",
		},
		{
			name: "invalid type", api: "0.12",
			launchTOML: "[[processes]]\ntype = \"web/1\"\ncommand = [\"x\"]\n",
			wantErr:    "only letters, digits",
		},
		{
			name: "duplicate type", api: "0.12",
			launchTOML: "[[processes]]\ntype = \"web\"\ncommand = [\"x\"]\n[[processes]]\ntype = \"web\"\ncommand = [\"y\"]\n",
			wantErr:    "declared twice",
		},
		{
			name: "slice escaping the app dir", api: "0.12",
			launchTOML: "[[slices]]\npaths = [\"../etc/*\"]\n",
			wantErr:    "stay inside",
		},
		{
			name: "malformed names file and line", api: "0.12",
			launchTOML: "[[processes]]\ntype = \"web\"\ncommand = [\"x\"\n",
			wantErr:    "launch.toml: line 3",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dirs := newBuildTestDirs(t)
			d := newBuildTestBP(t, dirs.bps, buildTestBP{id: "p", api: tc.api, out: map[string]string{"launch.toml": tc.launchTOML}})
			res, err := d.Build(context.Background(), dirs.config(nil))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				if !strings.Contains(err.Error(), "p@1.0.0") || !strings.Contains(err.Error(), "launch.toml") {
					t.Errorf("err = %v, want it to name the buildpack and launch.toml", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Processes) != len(tc.want) {
				t.Fatalf("processes = %+v, want %+v", res.Processes, tc.want)
			}
			for i := range tc.want {
				if !buildTestSameProcess(res.Processes[i], tc.want[i]) {
					t.Errorf("process %d = %+v, want %+v", i, res.Processes[i], tc.want[i])
				}
			}
			gotWarn := strings.Join(res.Warnings, "\n")
			if (tc.wantWarn == "") != (gotWarn == "") || !strings.Contains(gotWarn, tc.wantWarn) {
				t.Errorf("warnings = %q, want %q", gotWarn, tc.wantWarn)
			}
		})
	}
}

func buildTestSameProcess(a, b launch.Process) bool {
	return a.Type == b.Type && slices.Equal(a.Command, b.Command) && slices.Equal(a.Args, b.Args) &&
		(a.Args == nil) == (b.Args == nil) && a.Direct == b.Direct && a.Default == b.Default &&
		a.BuildpackID == b.BuildpackID && a.WorkingDir == b.WorkingDir && slices.Equal(a.ExecEnv, b.ExecEnv)
}

// buildpack.md, Buildpack Plan (TOML); buildpack.md, Unmet Buildpack Plan Entries: the buildpack plan file and build.toml [[unmet]].
func TestBuildPlanAndUnmet_2_5_3(t *testing.T) {
	plan := BuildpackPlan{Entries: []Require{
		{Name: "node", Metadata: map[string]any{"version": "20"}},
		{Name: "node", Metadata: map[string]any{"build": true}},
		{Name: "yarn"},
	}}
	cases := []struct {
		name      string
		buildTOML string
		wantMet   []string
		wantErr   string
	}{
		{name: "no build.toml: all met", wantMet: []string{"node", "yarn"}},
		{name: "yarn unmet", buildTOML: "[[unmet]]\nname = \"yarn\"\n", wantMet: []string{"node"}},
		{name: "unmet not in plan", buildTOML: "[[unmet]]\nname = \"python\"\n", wantErr: `"python" is not in the buildpack plan`},
		{name: "unmet without name", buildTOML: "[[unmet]]\n", wantErr: "has no name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dirs := newBuildTestDirs(t)
			out := map[string]string{}
			if tc.buildTOML != "" {
				out["build.toml"] = tc.buildTOML
			}
			d := newBuildTestBP(t, dirs.bps, buildTestBP{id: "plan", out: out})
			cfg := dirs.config(nil)
			cfg.Plan = plan
			res, err := d.Build(context.Background(), cfg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.MetRequires, tc.wantMet) {
				t.Errorf("met = %v, want %v", res.MetRequires, tc.wantMet)
			}
			var seen BuildpackPlan
			if err := tomlfile.Read(filepath.Join(d.Dir, "seen", "plan.toml"), &seen); err != nil {
				t.Fatal(err)
			}
			// Entries are never merged: both node requirements arrive separately (buildpack.md, Buildpack Plan (TOML)).
			if len(seen.Entries) != 3 || seen.Entries[0].Name != "node" || seen.Entries[1].Name != "node" ||
				seen.Entries[0].Metadata["version"] != "20" || seen.Entries[1].Metadata["build"] != true {
				t.Errorf("plan seen by bin/build = %+v", seen.Entries)
			}
		})
	}
}

// buildpack.md, Software Bill of Materials: SBOM files are classified and checked against sbom-formats.
func TestBuildSBOMFiles_3_10(t *testing.T) {
	cdx, spdx := MediaTypeCycloneDX, MediaTypeSPDX
	layerTOMLs := map[string]string{
		"run.toml":   "[types]\nlaunch = true\ncache = true\n",
		"tools.toml": "[types]\nbuild = true\n",
	}
	cases := []struct {
		name    string
		formats []string
		files   []string
		want    []string // kind:layer:ext
		wantErr string
	}{
		{
			name: "launch, build and layer SBOMs", formats: []string{cdx, spdx + "; version=2.3"},
			files: []string{"launch.sbom.cdx.json", "build.sbom.spdx.json", "run.sbom.cdx.json", "tools.sbom.cdx.json", "gone.sbom.cdx.json"},
			want:  []string{"build::spdx.json", "launch::cdx.json", "launch:run:cdx.json", "cache:run:cdx.json", "build:tools:cdx.json"},
		},
		{name: "undeclared format", formats: []string{cdx}, files: []string{"launch.sbom.spdx.json"}, wantErr: "does not declare"},
		{name: "no formats declared", files: []string{"run.sbom.syft.json"}, wantErr: "does not declare"},
		{name: "unknown extension", formats: []string{cdx}, files: []string{"launch.sbom.xml"}, wantErr: "unsupported format"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dirs := newBuildTestDirs(t)
			out := map[string]string{}
			for k, v := range layerTOMLs {
				out[k] = v
			}
			for _, f := range tc.files {
				out[f] = "{}"
			}
			d := newBuildTestBP(t, dirs.bps, buildTestBP{id: "sbom/bp", sbomFormats: tc.formats, out: out})
			res, err := d.Build(context.Background(), dirs.config(nil))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range res.SBOMFiles {
				got = append(got, string(f.Kind)+":"+f.Layer+":"+f.Ext)
			}
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("sbom files = %v, want %v", got, want)
			}
			if err := CopySBOMFiles(dirs.layers, res.SBOMFiles); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{"launch/sbom_bp/sbom.cdx.json", "launch/sbom_bp/run/sbom.cdx.json", "cache/sbom_bp/run/sbom.cdx.json", "build/sbom_bp/tools/sbom.cdx.json", "build/sbom_bp/sbom.spdx.json"} {
				if _, err := os.Stat(filepath.Join(dirs.layers, "sbom", p)); err != nil {
					t.Errorf("missing %s: %v", p, err)
				}
			}
		})
	}
}

// buildpack.md, Build: a non-zero exit is a BuildError naming id@version, the exit code and
// the output tail; output is streamed with the caller's prefix.
func TestBuildFailingBuildpack_2_5_1(t *testing.T) {
	dirs := newBuildTestDirs(t)
	d := newBuildTestBP(t, dirs.bps, buildTestBP{id: "fail/bp", version: "2.0.0", extra: `
for i in $(seq 1 30); do echo "line $i"; done
echo "compiler exploded" >&2
printf 'no newline at end'
exit 7
`})
	var out bytes.Buffer
	cfg := dirs.config(nil)
	cfg.Out, cfg.OutPrefix = &out, "[fail/bp] "
	_, err := d.Build(context.Background(), cfg)
	var be *BuildError
	if !errors.As(err, &be) {
		t.Fatalf("err = %v (%T), want *BuildError", err, err)
	}
	if be.ExitCode != 7 || be.Ref != "fail/bp@2.0.0" {
		t.Errorf("BuildError = %+v", be)
	}
	msg := err.Error()
	for _, want := range []string{"fail/bp@2.0.0", "exit code 7", "compiler exploded", "no newline at end", "line 30"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
	if strings.Contains(msg, "line 5\n") || len(be.Tail) != buildOutputTailLines {
		t.Errorf("tail has %d lines, want %d: %q", len(be.Tail), buildOutputTailLines, be.Tail)
	}
	if !strings.Contains(out.String(), "[fail/bp] line 1\n[fail/bp] line 2\n") ||
		!strings.HasSuffix(out.String(), "[fail/bp] no newline at end\n") {
		t.Errorf("streamed output = %q", out.String())
	}
}

// buildpack.md, Build: the output writer prefixes lines split across writes exactly once.
func TestBuildOutputPrefix_2_5_1(t *testing.T) {
	cases := []struct {
		name   string
		writes []string
		want   string
		tail   []string
	}{
		{"split line", []string{"hel", "lo\nwor", "ld\n"}, "> hello\n> world\n", []string{"hello", "world"}},
		{"unterminated", []string{"a\nb"}, "> a\n> b\n", []string{"a", "b"}},
		{"empty lines", []string{"\n\n"}, "> \n> \n", []string{"", ""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			o := &buildOutput{w: &buf, prefix: []byte("> "), atLineStart: true}
			for _, w := range tc.writes {
				if _, err := o.Write([]byte(w)); err != nil {
					t.Fatal(err)
				}
			}
			o.finish()
			if buf.String() != tc.want {
				t.Errorf("output = %q, want %q", buf.String(), tc.want)
			}
			if !slices.Equal(o.tailLines(), tc.tail) {
				t.Errorf("tail = %q, want %q", o.tailLines(), tc.tail)
			}
		})
	}
}

// buildpack.md, Provided by the Buildpacks: build=true layers contribute bin/lib and env files; launch-only do not.
func TestBuildApplyLayerEnv_2_6_5(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"a/bin", "b/bin", "b/lib", "c/bin"} {
		if err := os.MkdirAll(filepath.Join(dir, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	buildTestWrite(t, filepath.Join(dir, "a", "env", "A_VAR"), "a")
	buildTestWrite(t, filepath.Join(dir, "b", "env.build", "A_VAR.append"), "b")
	buildTestWrite(t, filepath.Join(dir, "b", "env.build", "A_VAR.delim"), ",")
	buildTestWrite(t, filepath.Join(dir, "c", "env", "C_VAR"), "c")
	layers := []Layer{
		{Name: "a", Path: filepath.Join(dir, "a"), LayerMetadataFile: LayerMetadataFile{Types: LayerTypes{Build: true}}},
		{Name: "b", Path: filepath.Join(dir, "b"), LayerMetadataFile: LayerMetadataFile{Types: LayerTypes{Build: true, Cache: true}}},
		{Name: "c", Path: filepath.Join(dir, "c"), LayerMetadataFile: LayerMetadataFile{Types: LayerTypes{Launch: true}}},
	}
	env := launch.NewEnv([]string{"PATH=/usr/bin"}, launch.BuildRootDirs, launch.BuildEnvIncludeList)
	if err := ApplyLayerEnv(env, layers); err != nil {
		t.Fatal(err)
	}
	wantPath := filepath.Join(dir, "b", "bin") + ":" + filepath.Join(dir, "a", "bin") + ":/usr/bin"
	if env.Get("PATH") != wantPath {
		t.Errorf("PATH = %q, want %q", env.Get("PATH"), wantPath)
	}
	if env.Get("LD_LIBRARY_PATH") != filepath.Join(dir, "b", "lib") || env.Get("LIBRARY_PATH") != filepath.Join(dir, "b", "lib") {
		t.Errorf("LD_LIBRARY_PATH = %q, LIBRARY_PATH = %q", env.Get("LD_LIBRARY_PATH"), env.Get("LIBRARY_PATH"))
	}
	if env.Get("A_VAR") != "a,b" {
		t.Errorf("A_VAR = %q, want a,b", env.Get("A_VAR"))
	}
	if _, ok := env.Lookup("C_VAR"); ok {
		t.Error("launch-only layer env reached the build env")
	}
}
