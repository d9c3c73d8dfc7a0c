package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/slipway/slipway/api"
	"github.com/slipway/slipway/buildpack"
	"github.com/slipway/slipway/launch"
	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/tomlfile"
)

// buildFixtureBP is a fixture buildpack whose bin/build is ../buildpack/testdata/build/bin-build.sh: it
// records env, args and plan under <bp>/seen/, copies <bp>/out/ into its layers dir, then
// sources <bp>/extra.sh.
type buildFixtureBP struct {
	id, api     string
	sbomFormats []string
	out         map[string]string
	extra       string
}

type buildFixture struct {
	t   *testing.T
	in  BuildInputs
	bps map[string]string // id → dir
}

func newBuildFixture(t *testing.T, bps ...buildFixtureBP) *buildFixture {
	t.Helper()
	root := t.TempDir()
	f := &buildFixture{t: t, bps: map[string]string{}, in: BuildInputs{
		AppDir: filepath.Join(root, "workspace"), LayersDir: filepath.Join(root, "layers"),
		PlatformDir: filepath.Join(root, "platform"), BuildpacksDir: filepath.Join(root, "cnb", "buildpacks"),
		BuildConfigDir: filepath.Join(root, "cnb", "build-config"),
		Target:         buildpack.Target{OS: "linux", Arch: "amd64"},
		Environ:        []string{"PATH=/usr/bin", "HOME=/home/cnb"},
	}}
	for _, d := range []string{f.in.AppDir, f.in.LayersDir, f.in.PlatformDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script, err := os.ReadFile(filepath.Join("..", "buildpack", "testdata", "build", "bin-build.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for _, bp := range bps {
		if bp.api == "" {
			bp.api = "0.12"
		}
		dir := filepath.Join(f.in.BuildpacksDir, buildpack.EscapedID(bp.id), "1.0.0")
		desc := "api = \"" + bp.api + "\"\n[buildpack]\nid = \"" + bp.id + "\"\nversion = \"1.0.0\"\n"
		if len(bp.sbomFormats) > 0 {
			desc += "sbom-formats = [\"" + strings.Join(bp.sbomFormats, "\", \"") + "\"]\n"
		}
		buildFixtureWrite(t, filepath.Join(dir, "buildpack.toml"), desc)
		buildFixtureWrite(t, filepath.Join(dir, "bin", "build"), string(script))
		if err := os.Chmod(filepath.Join(dir, "bin", "build"), 0o755); err != nil {
			t.Fatal(err)
		}
		for rel, content := range bp.out {
			buildFixtureWrite(t, filepath.Join(dir, "out", rel), content)
		}
		if bp.extra != "" {
			buildFixtureWrite(t, filepath.Join(dir, "extra.sh"), bp.extra)
		}
		f.bps[bp.id] = dir
		f.in.Group = append(f.in.Group, buildpack.GroupElement{ID: bp.id, Version: "1.0.0", API: bp.api})
	}
	return f
}

func buildFixtureWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (f *buildFixture) seenEnv(id string) map[string]string {
	f.t.Helper()
	b, err := os.ReadFile(filepath.Join(f.bps[id], "seen", "env"))
	if err != nil {
		f.t.Fatal(err)
	}
	m := map[string]string{}
	for _, kv := range strings.Split(string(b), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

func (f *buildFixture) seenPlan(id string) []buildpack.Require {
	f.t.Helper()
	var p buildpack.BuildpackPlan
	if err := tomlfile.Read(filepath.Join(f.bps[id], "seen", "plan.toml"), &p); err != nil {
		f.t.Fatal(err)
	}
	return p.Entries
}

func (f *buildFixture) layer(id string, rel ...string) string {
	return filepath.Join(append([]string{f.in.LayersDir, buildpack.EscapedID(id)}, rel...)...)
}

// buildpack.md, Provided by the Buildpacks; platform.md, Operator-Defined Variables; buildpack.md, launch.toml (TOML); buildpack.md, Slice Layers; platform.md, builder; buildpack.md, Buildpack API Compatibility: a group mixing B0.12 and B0.7:
// build layers of earlier buildpacks reach later ones (later first, within one buildpack the
// alphabetically last layer first), launch-only layers do not; operator defaults apply after
// buildpack env; processes, labels and slices merge into metadata.toml.
func TestBuildGroupEnvProcessesMetadata_4_10(t *testing.T) {
	f := newBuildFixture(t,
		buildFixtureBP{id: "example/a", api: "0.12", out: map[string]string{
			"tools.toml":                     "[types]\nbuild = true\n",
			"tools/bin/.keep":                "",
			"tools/env/A_OVERRIDE":           "a",
			"tools/env.build/A_LIST.prepend": "a-tools",
			"tools/env.build/A_LIST.delim":   ":",
			"tools/env/A_DEFAULT.default":    "a-default",
			"tools/env/A_APPEND.append":      "a",
			"zlib.toml":                      "[types]\nbuild = true\ncache = true\n",
			"zlib/bin/.keep":                 "",
			"zlib/pkgconfig/.keep":           "",
			"run.toml":                       "[types]\nlaunch = true\n",
			"run/bin/.keep":                  "",
			"run/env/LAUNCH_ONLY":            "x",
			"launch.toml": `[[processes]]
type = "web"
command = ["a-web"]
default = true
[[labels]]
key = "shared"
value = "a"
[[labels]]
key = "only-a"
value = "a"
[[slices]]
paths = ["static/*"]
`,
		}},
		buildFixtureBP{id: "example/b", api: "0.7", out: map[string]string{
			"b.toml":                "[types]\nbuild = true\n",
			"b/bin/.keep":           "",
			"b/env/A_LIST.prepend":  "b",
			"b/env/A_LIST.delim":    ":",
			"b/env/A_APPEND.append": "b",
			"b/env/A_APPEND.delim":  ",",
			"launch.toml": `[[processes]]
type = "web"
command = "python app.py"
`,
		}},
		buildFixtureBP{id: "example/c", api: "0.12", out: map[string]string{
			"launch.toml": `[[processes]]
type = "worker"
command = ["worker", "--queue"]
args = ["jobs"]
working-dir = "/workspace/jobs"
default = true
[[labels]]
key = "shared"
value = "c"
[[slices]]
paths = ["bin/*", "lib/*"]
`,
		}},
	)
	buildFixtureWrite(t, filepath.Join(f.in.BuildConfigDir, "env", "A_DEFAULT"), "operator")
	var out, log bytes.Buffer
	f.in.Out, f.in.Log = &out, &log
	md, err := Build(context.Background(), f.in)
	if err != nil {
		t.Fatal(err)
	}

	envA, envB, envC := f.seenEnv("example/a"), f.seenEnv("example/b"), f.seenEnv("example/c")
	// The operator default applies when no buildpack has set the variable (platform.md, Operator-Defined Variables).
	if envA["A_DEFAULT"] != "operator" {
		t.Errorf("a: A_DEFAULT = %q, want operator", envA["A_DEFAULT"])
	}
	wantPathB := f.layer("example/a", "zlib", "bin") + ":" + f.layer("example/a", "tools", "bin") + ":/usr/bin"
	wantPathC := f.layer("example/b", "b", "bin") + ":" + wantPathB
	cases := []struct {
		name     string
		env      map[string]string
		key      string
		want     string
		wantNone bool
	}{
		{"a does not see its own layers", envA, "PATH", "/usr/bin", false},
		{"b: build layer bins of a, last layer first", envB, "PATH", wantPathB, false},
		{"b: pkgconfig", envB, "PKG_CONFIG_PATH", f.layer("example/a", "zlib", "pkgconfig"), false},
		{"b: env/ without suffix overrides", envB, "A_OVERRIDE", "a", false},
		{"b: env.build prepend", envB, "A_LIST", "a-tools", false},
		{"b: layer default beats later operator default", envB, "A_DEFAULT", "a-default", false},
		{"b: launch-only layer env hidden", envB, "LAUNCH_ONLY", "", true},
		{"c: later buildpack first on PATH", envC, "PATH", wantPathC, false},
		{"c: prepend with delim, later first", envC, "A_LIST", "b:a-tools", false},
		{"c: append with delim, later last", envC, "A_APPEND", "a,b", false},
		{"c: include-list keeps HOME", envC, "HOME", "/home/cnb", false},
	}
	for _, tc := range cases {
		got, ok := tc.env[tc.key]
		if tc.wantNone {
			if ok {
				t.Errorf("%s: %s = %q, want unset", tc.name, tc.key, got)
			}
			continue
		}
		if got != tc.want {
			t.Errorf("%s: %s = %q, want %q", tc.name, tc.key, got, tc.want)
		}
	}

	wantProcs := []launch.Process{
		{Type: "web", Command: []string{"python app.py"}, Args: []string{}, BuildpackID: "example/b"},
		{Type: "worker", Command: []string{"worker", "--queue"}, Args: []string{"jobs"}, Direct: true, Default: true,
			BuildpackID: "example/c", WorkingDir: "/workspace/jobs"},
	}
	var fromFile launch.Metadata
	if err := tomlfile.Read(filepath.Join(f.in.LayersDir, "config", "metadata.toml"), &fromFile); err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]*launch.Metadata{"returned": md, "metadata.toml": &fromFile} {
		if len(got.Processes) != len(wantProcs) {
			t.Fatalf("%s processes = %+v", name, got.Processes)
		}
		for i, w := range wantProcs {
			p := got.Processes[i]
			if p.Type != w.Type || !slices.Equal(p.Command, w.Command) || !slices.Equal(p.Args, w.Args) || p.Direct != w.Direct ||
				p.Default != w.Default || p.BuildpackID != w.BuildpackID || p.WorkingDir != w.WorkingDir {
				t.Errorf("%s process %d = %+v, want %+v", name, i, p, w)
			}
		}
		if got.BuildpackDefaultProcessType != "worker" {
			t.Errorf("%s default = %q, want worker", name, got.BuildpackDefaultProcessType)
		}
		wantLabels := []launch.Label{{Key: "shared", Value: "c"}, {Key: "only-a", Value: "a"}}
		if !slices.Equal(got.Labels, wantLabels) {
			t.Errorf("%s labels = %+v, want %+v", name, got.Labels, wantLabels)
		}
		if len(got.Slices) != 2 || !slices.Equal(got.Slices[0].Paths, []string{"static/*"}) || !slices.Equal(got.Slices[1].Paths, []string{"bin/*", "lib/*"}) {
			t.Errorf("%s slices = %+v", name, got.Slices)
		}
		var bps []string
		for _, b := range got.Buildpacks {
			bps = append(bps, b.ID+"@"+b.Version+"/"+b.API)
		}
		if !slices.Equal(bps, []string{"example/a@1.0.0/0.12", "example/b@1.0.0/0.7", "example/c@1.0.0/0.12"}) {
			t.Errorf("%s buildpacks = %v", name, bps)
		}
	}
	// A non-default process replacing the default type clears the default, with a warning (buildpack.md, launch.toml (TOML)).
	if !strings.Contains(log.String(), `process type "web" of buildpack example/b is not default`) {
		t.Errorf("log = %q, want a warning about the replaced default", log.String())
	}
}

// buildpack.md, Buildpack Plan (TOML); buildpack.md, Unmet Buildpack Plan Entries: each buildpack gets every requirement of the names it provides,
// never merged; entries met by an earlier provider are withheld, [[unmet]] ones are passed on.
func TestBuildPlanPerBuildpack_2_5_3(t *testing.T) {
	a := buildpack.GroupElement{ID: "a", Version: "1.0.0"}
	b := buildpack.GroupElement{ID: "b", Version: "1.0.0"}
	plan := platform.PlanFile{Entries: []buildpack.PlanEntry{
		{Providers: []buildpack.GroupElement{a, b}, Requires: []buildpack.Require{
			{Name: "node", Metadata: map[string]any{"version": "20"}}, {Name: "node", Metadata: map[string]any{"build": true}},
		}},
		{Providers: []buildpack.GroupElement{a}, Requires: []buildpack.Require{{Name: "yarn"}}},
		{Providers: []buildpack.GroupElement{b}, Requires: []buildpack.Require{{Name: "python"}}},
	}}
	cases := []struct {
		name      string
		buildTOML string
		wantA     []string
		wantB     []string
		wantErr   string
	}{
		{name: "a meets node", wantA: []string{"node", "node", "yarn"}, wantB: []string{"python"}},
		{name: "a leaves node unmet", buildTOML: "[[unmet]]\nname = \"node\"\n", wantA: []string{"node", "node", "yarn"}, wantB: []string{"node", "node", "python"}},
		{name: "unmet name not in a's plan", buildTOML: "[[unmet]]\nname = \"python\"\n", wantErr: `"python" is not in the buildpack plan`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := map[string]string{}
			if tc.buildTOML != "" {
				out["build.toml"] = tc.buildTOML
			}
			f := newBuildFixture(t, buildFixtureBP{id: "a", out: out}, buildFixtureBP{id: "b"})
			f.in.Plan = plan
			_, err := Build(context.Background(), f.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || platform.ExitCode(err) != platform.CodeBuildError {
					t.Fatalf("err = %v (code %d), want %q with code 50", err, platform.ExitCode(err), tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for id, want := range map[string][]string{"a": tc.wantA, "b": tc.wantB} {
				var got []string
				for _, r := range f.seenPlan(id) {
					got = append(got, r.Name)
				}
				if !slices.Equal(got, want) {
					t.Errorf("plan of %s = %v, want %v", id, got, want)
				}
			}
			if got := f.seenPlan("a"); got[0].Metadata["version"] != "20" || got[1].Metadata["build"] != true {
				t.Errorf("node requirements merged or lost metadata: %+v", got)
			}
		})
	}
}

// buildpack.md, Build; platform.md, builder: a failing buildpack ends the build with code 51, naming
// id@version, the exit code and the tail of its output; later buildpacks do not run.
func TestBuildFailingBuildpackExit51_2_5_1(t *testing.T) {
	f := newBuildFixture(t,
		buildFixtureBP{id: "example/ok"},
		buildFixtureBP{id: "example/fail", extra: "echo 'resolving deps'\necho 'error: no compatible node version' >&2\nexit 3\n"},
		buildFixtureBP{id: "example/never"},
	)
	var out bytes.Buffer
	f.in.Out = &out
	_, err := Build(context.Background(), f.in)
	if code := platform.ExitCode(err); code != platform.CodeBuildpackFailed {
		t.Fatalf("exit code = %d (err %v), want 51", code, err)
	}
	for _, want := range []string{"example/fail@1.0.0", "exit code 3", "error: no compatible node version"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if !strings.Contains(out.String(), "[example/fail] resolving deps\n") {
		t.Errorf("output not streamed with prefix: %q", out.String())
	}
	if _, err := os.Stat(filepath.Join(f.bps["example/never"], "seen")); !errors.Is(err, os.ErrNotExist) {
		t.Error("a buildpack after the failing one ran")
	}
	if _, err := os.Stat(filepath.Join(f.in.LayersDir, "config", "metadata.toml")); !errors.Is(err, os.ErrNotExist) {
		t.Error("metadata.toml written after a failed build")
	}
}

// buildpack.md, launch.toml (TOML); platform.md, builder: output-file errors end the build with code 50 and name the file
// (with the line for TOML syntax errors).
func TestBuildOutputFileErrorsExit50_3_8(t *testing.T) {
	cases := []struct {
		name, api string
		out       map[string]string
		want      []string
	}{
		{"malformed launch.toml", "0.12", map[string]string{"launch.toml": "[[processes]]\ntype = \"web\"\ncommand = [\"x\"\n"},
			[]string{"example/bad@1.0.0", "launch.toml: line 3"}},
		{"direct with B0.9", "0.9", map[string]string{"launch.toml": "[[processes]]\ntype = \"web\"\ncommand = [\"x\"]\ndirect = true\n"},
			[]string{"example/bad@1.0.0", "direct is not allowed"}},
		{"reserved layer name", "0.12", map[string]string{"build/file": "x"},
			[]string{"example/bad@1.0.0", `layer name "build" is reserved`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newBuildFixture(t, buildFixtureBP{id: "example/bad", api: tc.api, out: tc.out})
			_, err := Build(context.Background(), f.in)
			if code := platform.ExitCode(err); code != platform.CodeBuildError {
				t.Fatalf("exit code = %d (err %v), want 50", code, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// buildpack.md, Software Bill of Materials; platform.md, builder: <layers>/sbom is cleared at start; SBOMs are copied per kind;
// an undeclared format fails the build.
func TestBuildSBOMCopy_3_10(t *testing.T) {
	cdx := buildpack.MediaTypeCycloneDX
	t.Run("copied", func(t *testing.T) {
		f := newBuildFixture(t, buildFixtureBP{id: "example/s", sbomFormats: []string{cdx}, out: map[string]string{
			"launch.sbom.cdx.json": `{"bp":"launch"}`,
			"build.sbom.cdx.json":  `{"bp":"build"}`,
			"deps.toml":            "[types]\nlaunch = true\ncache = true\n",
			"deps/f":               "x",
			"deps.sbom.cdx.json":   `{"layer":"deps"}`,
			"tools.toml":           "[types]\nbuild = true\n",
			"tools.sbom.cdx.json":  `{"layer":"tools"}`,
		}})
		stale := filepath.Join(f.in.LayersDir, "sbom", "launch", "old", "sbom.cdx.json")
		buildFixtureWrite(t, stale, "{}")
		if _, err := Build(context.Background(), f.in); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
			t.Error("stale SBOM survived the build")
		}
		for rel, want := range map[string]string{
			"launch/example_s/sbom.cdx.json":      `{"bp":"launch"}`,
			"build/example_s/sbom.cdx.json":       `{"bp":"build"}`,
			"launch/example_s/deps/sbom.cdx.json": `{"layer":"deps"}`,
			"cache/example_s/deps/sbom.cdx.json":  `{"layer":"deps"}`,
			"build/example_s/tools/sbom.cdx.json": `{"layer":"tools"}`,
		} {
			b, err := os.ReadFile(filepath.Join(f.in.LayersDir, "sbom", rel))
			if err != nil || string(b) != want {
				t.Errorf("sbom/%s = %q, %v; want %q", rel, b, err, want)
			}
		}
	})
	t.Run("undeclared format", func(t *testing.T) {
		f := newBuildFixture(t, buildFixtureBP{id: "example/s", sbomFormats: []string{cdx}, out: map[string]string{
			"launch.sbom.syft.json": "{}",
		}})
		_, err := Build(context.Background(), f.in)
		if platform.ExitCode(err) != platform.CodeBuildError || !strings.Contains(err.Error(), "sbom-formats") {
			t.Fatalf("err = %v (code %d), want code 50 naming sbom-formats", err, platform.ExitCode(err))
		}
	})
}

// docs/spec-notes.md, API versions; buildpack.md, launch.toml (TOML): process exec-env needs Platform API 0.15 as well as B0.12.
func TestBuildProcessExecEnvPlatformGate_3_8(t *testing.T) {
	cases := []struct {
		platform string
		want     []string
	}{{"0.15", []string{"production"}}, {"0.14", nil}}
	for _, tc := range cases {
		t.Run("P"+tc.platform, func(t *testing.T) {
			f := newBuildFixture(t, buildFixtureBP{id: "example/p", out: map[string]string{
				"launch.toml": "[[processes]]\ntype = \"web\"\ncommand = [\"x\"]\nexec-env = [\"production\"]\n",
			}})
			p, err := api.ForPlatform(tc.platform)
			if err != nil {
				t.Fatal(err)
			}
			f.in.Platform = p
			md, err := Build(context.Background(), f.in)
			if err != nil {
				t.Fatal(err)
			}
			if len(md.Processes) != 1 || !slices.Equal(md.Processes[0].ExecEnv, tc.want) {
				t.Errorf("processes = %+v, want exec-env %v", md.Processes, tc.want)
			}
		})
	}
}

// buildpack.md, launch.toml (TOML): process merging across buildpacks.
func TestBuildProcessMerging_3_8(t *testing.T) {
	p := func(bp, typ string, def bool) launch.Process {
		return launch.Process{Type: typ, BuildpackID: bp, Default: def, Command: []string{bp + "-" + typ}}
	}
	cases := []struct {
		name        string
		perBP       [][]launch.Process
		wantTypes   []string // type=buildpack, sorted by type
		wantDefault string
		wantWarn    bool
	}{
		{"later replaces earlier", [][]launch.Process{{p("a", "web", false), p("a", "task", false)}, {p("b", "web", false)}},
			[]string{"task=a", "web=b"}, "", false},
		{"last default wins", [][]launch.Process{{p("a", "web", true)}, {p("b", "worker", true)}},
			[]string{"web=a", "worker=b"}, "worker", false},
		{"default kept when another type is added", [][]launch.Process{{p("a", "web", true)}, {p("b", "worker", false)}},
			[]string{"web=a", "worker=b"}, "web", false},
		{"non-default replacing default clears it", [][]launch.Process{{p("a", "web", true)}, {p("b", "web", false)}},
			[]string{"web=b"}, "", true},
		{"default replaced by default", [][]launch.Process{{p("a", "web", true)}, {p("b", "web", true)}},
			[]string{"web=b"}, "web", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := processMerger{byType: map[string]launch.Process{}}
			var warns []string
			for _, procs := range tc.perBP {
				warns = append(warns, m.add(procs)...)
			}
			list, def := m.list()
			var got []string
			for _, pr := range list {
				got = append(got, pr.Type+"="+pr.BuildpackID)
				if pr.Default != (pr.Type == tc.wantDefault) {
					t.Errorf("process %s Default = %v", pr.Type, pr.Default)
				}
			}
			if !slices.Equal(got, tc.wantTypes) || def != tc.wantDefault {
				t.Errorf("got %v default %q, want %v default %q", got, def, tc.wantTypes, tc.wantDefault)
			}
			if (len(warns) > 0) != tc.wantWarn {
				t.Errorf("warnings = %v, want any: %v", warns, tc.wantWarn)
			}
		})
	}
}
