package buildpack

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// writeDetectFixture creates a buildpack acme/fx@1.0.0 whose bin/detect runs script (bash)
// and returns its descriptor. Fixtures are written from the test so modes are right.
func writeDetectFixture(t *testing.T, apiVersion, extraInfo, script string) *Descriptor {
	t.Helper()
	dir := t.TempDir()
	toml := "api = \"" + apiVersion + "\"\n[buildpack]\nid = \"acme/fx\"\nversion = \"1.0.0\"\n" + extraInfo
	if err := os.WriteFile(filepath.Join(dir, "buildpack.toml"), []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	if script != "" {
		if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
			t.Fatal(err)
		}
		body := "#!/usr/bin/env bash\nset -euo pipefail\n" + script + "\n"
		if err := os.WriteFile(filepath.Join(dir, "bin", "detect"), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	d, err := ReadDescriptor(dir)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// buildpack.md, Detection; buildpack.md, Build Plan (TOML): exit codes, the plan file, requires.version.
func TestDetectOutcome(t *testing.T) {
	tests := []struct {
		name       string
		api        string
		script     string
		noDetect   bool
		wantStatus DetectStatus
		wantCode   int
		wantPlan   DetectPlan
		wantErr    string
		wantOutput []string
	}{
		{name: "exit 0 with untouched plan passes", api: "0.12", script: "echo hello; echo oops >&2",
			wantStatus: DetectPass, wantOutput: []string{"hello", "oops"}},
		{name: "exit 100 fails", api: "0.12", script: "echo no app here; exit 100",
			wantStatus: DetectFail, wantCode: 100, wantOutput: []string{"no app here"}},
		{name: "other exit code is an error", api: "0.12", script: "exit 3",
			wantStatus: DetectError, wantCode: 3, wantErr: "exited with 3"},
		{name: "missing bin/detect is an error", api: "0.12", noDetect: true,
			wantStatus: DetectError, wantCode: -1, wantErr: "bin/detect"},
		{name: "plan with or alternatives", api: "0.12", script: `cat > "$CNB_BUILD_PLAN_PATH" <<'T'
[[provides]]
name = "node"
[[requires]]
name = "node"
[requires.metadata]
build = true
[[or]]
[[or.provides]]
name = "yarn"
T`,
			wantStatus: DetectPass,
			wantPlan: DetectPlan{
				PlanSections: PlanSections{Provides: []Provide{{Name: "node"}}, Requires: []Require{{Name: "node", Metadata: map[string]any{"build": true}}}},
				Or:           []PlanSections{{Provides: []Provide{{Name: "yarn"}}}},
			}},
		{name: "plan path is the second positional arg", api: "0.7", script: `printf '[[requires]]\nname = "x"\n' > "$2"; printf '[[provides]]\nname = "x"\n' >> "$2"`,
			wantStatus: DetectPass,
			wantPlan:   DetectPlan{PlanSections: PlanSections{Provides: []Provide{{Name: "x"}}, Requires: []Require{{Name: "x"}}}}},
		{name: "malformed plan names line", api: "0.12", script: `printf '[[requires]]\nname = \n' > "$CNB_BUILD_PLAN_PATH"`,
			wantStatus: DetectError, wantErr: "line 2"},
		{name: "requires.version moves to metadata before B0.11", api: "0.10", script: `printf '[[requires]]\nname = "x"\nversion = "1.2"\n' > "$CNB_BUILD_PLAN_PATH"`,
			wantStatus: DetectPass,
			wantPlan:   DetectPlan{PlanSections: PlanSections{Requires: []Require{{Name: "x", Metadata: map[string]any{"version": "1.2"}}}}}},
		{name: "requires.version conflicting with metadata.version is an error", api: "0.10", script: `printf '[[requires]]\nname = "x"\nversion = "1.2"\n[requires.metadata]\nversion = "1.3"\n' > "$CNB_BUILD_PLAN_PATH"`,
			wantStatus: DetectError, wantErr: `metadata.version 1.3`},
		{name: "requires.version equal to metadata.version is fine", api: "0.10", script: `printf '[[requires]]\nname = "x"\nversion = "1.2"\n[requires.metadata]\nversion = "1.2"\n' > "$CNB_BUILD_PLAN_PATH"`,
			wantStatus: DetectPass,
			wantPlan:   DetectPlan{PlanSections: PlanSections{Requires: []Require{{Name: "x", Metadata: map[string]any{"version": "1.2"}}}}}},
		{name: "requires.version rejected from B0.11", api: "0.11", script: `printf '[[requires]]\nname = "x"\nversion = "1.2"\n' > "$CNB_BUILD_PLAN_PATH"`,
			wantStatus: DetectError, wantErr: "metadata] version"},
		{name: "output keeps only the last lines", api: "0.12", script: "for i in $(seq 1 5000); do echo line $i; done",
			wantStatus: DetectPass, wantOutput: func() []string {
				var out []string
				for i := 4981; i <= 5000; i++ {
					out = append(out, "line "+strconv.Itoa(i))
				}
				return out
			}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			script := tc.script
			if tc.noDetect {
				script = ""
			}
			d := writeDetectFixture(t, tc.api, "", script)
			out := d.Detect(context.Background(), DetectConfig{AppDir: t.TempDir(), PlatformDir: t.TempDir(), TempDir: t.TempDir()})
			if out.Status != tc.wantStatus {
				t.Fatalf("status %s (err %v), want %s", out.Status, out.Err, tc.wantStatus)
			}
			if out.ExitCode != tc.wantCode {
				t.Errorf("exit code %d, want %d", out.ExitCode, tc.wantCode)
			}
			if tc.wantErr != "" && (out.Err == nil || !strings.Contains(out.Err.Error(), tc.wantErr)) {
				t.Errorf("error %v, want it to contain %q", out.Err, tc.wantErr)
			}
			if tc.wantErr == "" && out.Err != nil {
				t.Errorf("unexpected error %v", out.Err)
			}
			if tc.wantStatus == DetectPass && !reflect.DeepEqual(out.Plan, tc.wantPlan) {
				t.Errorf("plan %+v, want %+v", out.Plan, tc.wantPlan)
			}
			if tc.wantOutput != nil && !reflect.DeepEqual(out.Output, tc.wantOutput) {
				t.Errorf("output %q, want %q", out.Output, tc.wantOutput)
			}
		})
	}
}

// buildpack.md, Detection; docs/spec-notes.md, Build environment; platform.md, Operator-Defined Variables: what bin/detect sees in its environment.
func TestDetectEnv(t *testing.T) {
	const dump = `env > "$OUT_DIR/env"; printf '%s\n' "$PWD" "$1" "$2" > "$OUT_DIR/args"`
	tests := []struct {
		name      string
		api       string
		extraInfo string
		target    Target
		want      map[string]string // "" = must be absent
	}{
		{name: "B0.12 gets path, target and exec-env vars", api: "0.12",
			target: Target{OS: "linux", Arch: "amd64", Distros: []Distro{{Name: "ubuntu", Version: "22.04"}}},
			want: map[string]string{
				"CNB_TARGET_OS": "linux", "CNB_TARGET_ARCH": "amd64", "CNB_TARGET_ARCH_VARIANT": "",
				"CNB_TARGET_DISTRO_NAME": "ubuntu", "CNB_TARGET_DISTRO_VERSION": "22.04",
				"CNB_EXEC_ENV": "test",
				"USER_VAR":     "from-user",
			}},
		{name: "B0.12 unknown target fields stay unset", api: "0.12", target: Target{OS: "linux"},
			want: map[string]string{"CNB_TARGET_OS": "linux", "CNB_TARGET_ARCH": "", "CNB_TARGET_DISTRO_NAME": ""}},
		{name: "B0.7 gets only CNB_BUILDPACK_DIR", api: "0.7",
			target: Target{OS: "linux", Arch: "amd64"},
			want:   map[string]string{"CNB_PLATFORM_DIR": "", "CNB_BUILD_PLAN_PATH": "", "CNB_TARGET_OS": "", "CNB_EXEC_ENV": ""}},
		{name: "B0.10 gets targets but not exec-env", api: "0.10", target: Target{OS: "linux", Arch: "arm64", Variant: "v8"},
			want: map[string]string{"CNB_TARGET_ARCH": "arm64", "CNB_TARGET_ARCH_VARIANT": "v8", "CNB_EXEC_ENV": ""}},
		{name: "clear-env drops user env but keeps operator env", api: "0.12", extraInfo: "clear-env = true\n",
			want: map[string]string{"USER_VAR": "operator-default", "OP_DEFAULT": "from-operator", "PATH": os.Getenv("PATH")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			app, plat, cfg := t.TempDir(), t.TempDir(), t.TempDir()
			writeFiles(t, plat, map[string]string{
				"env/USER_VAR": "from-user",
				"env/PATH":     "/user/bin",
				"env/HOSTNAME": "user-host",
			})
			writeFiles(t, cfg, map[string]string{
				"env/OUT_DIR":           out,
				"env/OP_DEFAULT":        "from-operator",
				"env/HOME":              "/operator/home", // no suffix = default: must not replace HOME
				"env/HOSTNAME.override": "operator-host",
				"env/USER_VAR.default":  "operator-default",
			})
			d := writeDetectFixture(t, tc.api, tc.extraInfo, dump)
			environ := []string{"HOME=/home/cnb", "PATH=" + os.Getenv("PATH"), "SECRET_TOKEN=hunter2", "CNB_PLATFORM_API=0.15"}
			res := d.Detect(context.Background(), DetectConfig{
				AppDir: app, PlatformDir: plat, BuildConfigDir: cfg, Environ: environ,
				Target: tc.target, ExecEnv: "test", TempDir: t.TempDir(),
			})
			if res.Status != DetectPass {
				t.Fatalf("status %s: %v %q", res.Status, res.Err, res.Output)
			}
			env := readEnvDump(t, filepath.Join(out, "env"))
			want := map[string]string{
				"SECRET_TOKEN":      "", // not on the include-list (docs/spec-notes.md, Build environment)
				"CNB_PLATFORM_API":  "",
				"HOME":              "/home/cnb",
				"HOSTNAME":          "operator-host", // operator env after user env (platform.md, Operator-Defined Variables)
				"OP_DEFAULT":        "from-operator",
				"CNB_BUILDPACK_DIR": d.Dir,
				"PATH":              "/user/bin:" + os.Getenv("PATH"), // user path vars prepend (platform.md, User-Provided Variables)
			}
			if d.APIFeatures().PathEnv {
				want["CNB_PLATFORM_DIR"] = plat
			}
			if !d.Buildpack.ClearEnv {
				want["USER_VAR"] = "from-user"
			}
			for k, v := range tc.want {
				want[k] = v
			}
			for k, v := range want {
				got, ok := env[k]
				switch {
				case v == "" && ok:
					t.Errorf("%s=%q is set, want it absent", k, got)
				case v != "" && got != v:
					t.Errorf("%s=%q, want %q", k, got, v)
				}
			}
			args, err := os.ReadFile(filepath.Join(out, "args"))
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(string(args)), "\n")
			if lines[0] != app || lines[1] != plat {
				t.Errorf("pwd %q and $1 %q, want %q and %q", lines[0], lines[1], app, plat)
			}
			if d.APIFeatures().PathEnv && env["CNB_BUILD_PLAN_PATH"] != lines[2] {
				t.Errorf("CNB_BUILD_PLAN_PATH %q differs from $2 %q", env["CNB_BUILD_PLAN_PATH"], lines[2])
			}
		})
	}
}

func readEnvDump(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			env[k] = v
		}
	}
	return env
}

// The tail keeps bounded memory however much a buildpack prints.
func TestDetectOutputTailBounded(t *testing.T) {
	var tail detectOutputTail
	chunk := []byte(strings.Repeat("x", 1000) + "\n")
	for i := 0; i < 10000; i++ {
		tail.Write(chunk)
	}
	tail.Write([]byte("last\n"))
	if cap(tail.buf) > 4*detectTailBytes {
		t.Errorf("buffer grew to %d bytes", cap(tail.buf))
	}
	lines := tail.Lines(DetectTailLines)
	if len(lines) == 0 || lines[len(lines)-1] != "last" {
		t.Errorf("last line %q, want \"last\"", lines)
	}
}
