package launch_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/slipway/slipway/api"
	"github.com/slipway/slipway/launch"
)

// fixture is a fake image filesystem: a layers dir and an app dir in t.TempDir().
type fixture struct {
	layers, app string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	root := t.TempDir()
	f := &fixture{layers: filepath.Join(root, "layers"), app: filepath.Join(root, "workspace")}
	for _, d := range []string{f.layers, f.app} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// write creates layers-relative (or absolute) file rel with content; mode 0755 makes
// it executable.
func (f *fixture) write(t *testing.T, rel, content string, mode os.FileMode) string {
	t.Helper()
	p := rel
	if !filepath.IsAbs(p) {
		p = filepath.Join(f.layers, rel)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *fixture) mkdir(t *testing.T, rel string) string {
	t.Helper()
	p := filepath.Join(f.layers, rel)
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// testMetadata has a modern (B0.12) and a legacy (B0.8) buildpack and their processes.
func testMetadata() launch.Metadata {
	return launch.Metadata{
		Buildpacks: []launch.Buildpack{
			{ID: "example/modern", Version: "1.0.0", API: "0.12"},
			{ID: "example/legacy", Version: "1.0.0", API: "0.8"},
		},
		Processes: []launch.Process{
			{Type: "web", Command: []string{"echo", "web"}, Args: []string{"default-arg"}, BuildpackID: "example/modern"},
			{Type: "worker", Command: []string{"echo"}, Args: []string{"legacy-arg"}, Direct: true, BuildpackID: "example/legacy"},
			{Type: "shell", Command: []string{`echo "greeting: $GREETING" && echo second`}, BuildpackID: "example/legacy"},
			{Type: "shellargs", Command: []string{"echo"}, Args: []string{"$GREETING", "two words"}, BuildpackID: "example/legacy"},
			{Type: "sub", Command: []string{"pwd"}, WorkingDir: "sub", BuildpackID: "example/modern"},
			{Type: "abs", Command: []string{"pwd"}, WorkingDir: "/", BuildpackID: "example/modern"},
			{Type: "testonly", Command: []string{"echo"}, ExecEnv: []string{"test"}, BuildpackID: "example/modern"},
			{Type: "anyenv", Command: []string{"echo", "any"}, ExecEnv: []string{"*"}, BuildpackID: "example/modern"},
			{Type: "exits", Command: []string{"bash", "-c", "exit 7"}, BuildpackID: "example/modern"},
		},
	}
}

func (f *fixture) launcher(md launch.Metadata, env ...string) *launch.Launcher {
	return &launch.Launcher{
		AppDir:    f.app,
		LayersDir: f.layers,
		Metadata:  md,
		Env: append([]string{
			"PATH=/cnb/process:/usr/local/bin:/usr/bin:/bin:/cnb/lifecycle",
			"GREETING=hello there",
			"CNB_APP_DIR=" + f.app,
			"CNB_LAYERS_DIR=" + f.layers,
			"CNB_PLATFORM_API=0.15",
			"CNB_DEPRECATION_MODE=quiet",
		}, env...),
	}
}

// run executes a prepared process as exec would, and returns its combined output.
func run(t *testing.T, x *launch.Execution) string {
	t.Helper()
	cmd := exec.Command(x.Path)
	cmd.Args = x.Argv
	cmd.Env = x.Env
	cmd.Dir = x.Dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run %v: %v\n%s", x.Argv, err, out)
	}
	return string(out)
}

// buildpack.md, Launch (selection), buildpack.md, Launch (args), buildpack.md, Launch (working-dir): select, prepare and
// really run the process.
func TestLaunchSelectsAndRunsProcess(t *testing.T) {
	f := newFixture(t)
	if err := os.Mkdir(filepath.Join(f.app, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	md := testMetadata()
	mdDefault := testMetadata()
	mdDefault.BuildpackDefaultProcessType = "web"
	tests := []struct {
		name        string
		md          launch.Metadata
		platformAPI string
		self        string
		args        []string
		wantType    string
		wantShell   bool
		wantDir     string
		wantOut     string
	}{
		{name: "buildpack.md, Launch: argv0 names a process type", self: "/cnb/process/web", wantType: "web", wantOut: "web default-arg\n"},
		{name: "buildpack.md, Launch: argv0 with .exe suffix", self: "web.exe", wantType: "web", wantOut: "web default-arg\n"},
		{name: "buildpack.md, Launch: B0.9+ user args replace args, command extras kept", self: "web", args: []string{"x", "y"}, wantType: "web", wantOut: "web x y\n"},
		{name: "buildpack.md, Launch: P<0.10 user args are appended", platformAPI: "0.9", self: "web", args: []string{"x"}, wantType: "web", wantOut: "web default-arg x\n"},
		{name: "buildpack.md, Launch: B<0.9 user args are appended", self: "worker", args: []string{"x"}, wantType: "worker", wantOut: "legacy-arg x\n"},
		{name: "buildpack.md, Launch: B<0.9 direct=false script runs through bash", self: "shell", wantType: "shell", wantShell: true, wantOut: "greeting: hello there\nsecond\n"},
		{name: "buildpack.md, Launch: B<0.9 direct=false words are expanded one by one", self: "shellargs", wantType: "shellargs", wantShell: true, wantOut: "hello there two words\n"},
		{name: "buildpack.md, Launch: -- runs the command directly", self: "/cnb/lifecycle/launcher", args: []string{"--", "echo", "$GREETING"}, wantOut: "$GREETING\n"},
		{name: "buildpack.md, Launch: user command through the shell", self: "launcher", args: []string{"echo", "$GREETING", "a b"}, wantShell: true, wantOut: "hello there a b\n"},
		{name: "buildpack.md, Launch: single user word is a bash script", self: "launcher", args: []string{"echo one && echo $GREETING"}, wantShell: true, wantOut: "one\nhello there\n"},
		{name: "buildpack.md, Launch: user command ignores the default process", md: mdDefault, self: "launcher", args: []string{"echo", "mine"}, wantShell: true, wantOut: "mine\n"},
		{name: "buildpack.md, Launch: no args runs the default process", md: mdDefault, self: "launcher", wantType: "web", wantOut: "web default-arg\n"},
		{name: "buildpack.md, Launch: relative working-dir is under the app dir", self: "sub", wantType: "sub", wantDir: "sub", wantOut: filepath.Join(f.app, "sub") + "\n"},
		{name: "buildpack.md, Launch: absolute working-dir", self: "abs", wantType: "abs", wantDir: "/", wantOut: "/\n"},
		{name: "buildpack.md, Launch: exec-env * is always eligible", self: "anyenv", wantType: "anyenv", wantOut: "any\n"},
		{name: "buildpack.md, Launch: exec-env is not checked before P0.15", platformAPI: "0.14", self: "testonly", wantType: "testonly", wantOut: "\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := md
			if tc.md.Processes != nil {
				m = tc.md
			}
			l := f.launcher(m)
			l.PlatformAPI = tc.platformAPI
			x, err := l.Prepare(context.Background(), tc.self, tc.args)
			if err != nil {
				t.Fatal(err)
			}
			if x.Type != tc.wantType {
				t.Errorf("type = %q, want %q", x.Type, tc.wantType)
			}
			if isShell := x.Path == "/bin/bash"; isShell != tc.wantShell {
				t.Errorf("path = %s, want shell=%v", x.Path, tc.wantShell)
			}
			wantDir := f.app
			if filepath.IsAbs(tc.wantDir) {
				wantDir = tc.wantDir
			} else if tc.wantDir != "" {
				wantDir = filepath.Join(f.app, tc.wantDir)
			}
			if x.Dir != wantDir {
				t.Errorf("dir = %s, want %s", x.Dir, wantDir)
			}
			if got := run(t, x); got != tc.wantOut {
				t.Errorf("output = %q, want %q", got, tc.wantOut)
			}
		})
	}
}

// buildpack.md, Launch; platform.md, Platform API Compatibility: failures before exec carry the launcher's exit codes.
func TestLaunchErrors(t *testing.T) {
	f := newFixture(t)
	badBP := testMetadata()
	badBP.Buildpacks[1].API = "0.6"
	unknownBP := testMetadata()
	unknownBP.Processes[0].BuildpackID = "example/gone"
	badDefault := testMetadata()
	badDefault.BuildpackDefaultProcessType = "gone"
	tests := []struct {
		name        string
		md          launch.Metadata
		platformAPI string
		execEnv     string
		self        string
		args        []string
		wantCode    int
		wantMsg     string
	}{
		{name: "buildpack.md, Launch: no args and no default process", self: "launcher", wantCode: 82, wantMsg: "no command was given"},
		{name: "buildpack.md, Launch: -- without a command", self: "launcher", args: []string{"--"}, wantCode: 82, wantMsg: `"--" must be followed`},
		{name: "buildpack.md, Launch: P0.15 process not eligible for exec env", self: "testonly", wantCode: 82, wantMsg: `execution environment "production"`},
		{name: "buildpack.md, Launch: P0.15 process not eligible for another exec env", execEnv: "development", self: "testonly", wantCode: 82, wantMsg: `"development"`},
		{name: "platform.md, Platform API Compatibility: unsupported platform API", platformAPI: "0.3", self: "web", wantCode: 11, wantMsg: "platform API 0.3"},
		{name: "platform.md, Platform API Compatibility: malformed platform API", platformAPI: "x", self: "web", wantCode: 11, wantMsg: "CNB_PLATFORM_API"},
		{name: "platform.md, Platform API Compatibility: unsupported buildpack API", md: badBP, self: "web", wantCode: 12, wantMsg: "example/legacy"},
		{name: "buildpack.md, Launch: process from a buildpack not in metadata", md: unknownBP, self: "web", wantCode: 82, wantMsg: "example/gone"},
		{name: "buildpack.md, Launch: default process type missing", md: badDefault, self: "launcher", wantCode: 82, wantMsg: `"gone"`},
		{name: "buildpack.md, Launch: direct command not on PATH", self: "launcher", args: []string{"--", "no-such-cmd-xyz"}, wantCode: 82, wantMsg: "no-such-cmd-xyz"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := testMetadata()
			if tc.md.Processes != nil {
				m = tc.md
			}
			l := f.launcher(m)
			l.PlatformAPI = tc.platformAPI
			l.ExecEnv = tc.execEnv
			_, err := l.Prepare(context.Background(), tc.self, tc.args)
			if err == nil {
				t.Fatal("Prepare succeeded, want error")
			}
			if got := launch.ExitCode(err); got != tc.wantCode {
				t.Errorf("exit code = %d, want %d (%v)", got, tc.wantCode, err)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tc.wantMsg)
			}
		})
	}
}

// buildpack.md, Launch: Launch chdirs to the working dir, then execs with the prepared argv
// and env; exec errors are launch errors.
func TestLaunchChdirAndExec(t *testing.T) {
	f := newFixture(t)
	l := f.launcher(testMetadata())
	var dir string
	var gotPath string
	var gotArgv []string
	l.Chdir = func(d string) error { dir = d; return nil }
	l.Exec = func(p string, argv, env []string) error { gotPath, gotArgv = p, argv; return nil }
	if err := l.Launch(context.Background(), "abs", nil); err != nil {
		t.Fatal(err)
	}
	if dir != "/" || !strings.HasSuffix(gotPath, "/pwd") || !reflect.DeepEqual(gotArgv, []string{"pwd"}) {
		t.Errorf("chdir %q, exec %q %q; want /, .../pwd [pwd]", dir, gotPath, gotArgv)
	}

	l.Exec = func(string, []string, []string) error { return errors.New("boom") }
	if err := l.Launch(context.Background(), "abs", nil); launch.ExitCode(err) != 82 || !strings.Contains(err.Error(), "boom") {
		t.Errorf("exec failure: got %v (code %d), want code 82", err, launch.ExitCode(err))
	}
	l.Chdir = nil
	if err := l.Launch(context.Background(), "abs", nil); err == nil {
		t.Error("Launch without Chdir succeeded, want error")
	}
}

// envOf prepares process self and returns its environment as a map.
func envOf(t *testing.T, l *launch.Launcher, self string, args ...string) map[string]string {
	t.Helper()
	x, err := l.Prepare(context.Background(), self, args)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, kv := range x.Env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// buildpack.md, Launch (environment) steps 1–2 and buildpack.md, Environment Variable Modification Rules: launcher env minus CNB inputs, then per buildpack
// (metadata order) and layer (name order) bin/lib, env/, env.launch/, env.launch/<type>/.
func TestLaunchEnvAssembly(t *testing.T) {
	f := newFixture(t)
	md := testMetadata()
	// Two layers for each buildpack.
	for _, l := range []string{"example_modern/a", "example_modern/b", "example_legacy/a", "example_legacy/b"} {
		f.mkdir(t, l+"/bin")
		f.mkdir(t, l+"/lib")
		f.write(t, l+"/env/ORDER.append", "-"+l, 0o644)
		f.write(t, l+"/env/FIRST.prepend", l+":", 0o644)
		f.write(t, l+"/env.launch/LAST", l, 0o644)
		f.write(t, l+"/env/DEF.default", l, 0o644)
	}
	f.write(t, "example_modern/a/env/WHERE", "env", 0o644)
	f.write(t, "example_modern/a/env.launch/WHERE", "env.launch", 0o644)
	f.write(t, "example_modern/a/env.launch/web/WHERE", "env.launch/web", 0o644)
	f.write(t, "example_modern/a/env.launch/web/ONLYWEB", "yes\n", 0o644)
	f.write(t, "example_modern/a/env.launch/KEEP.default", "layer", 0o644)
	f.write(t, "example_modern/stray-file", "not a layer", 0o644)
	f.mkdir(t, "unlisted_bp/a/bin")

	l := f.launcher(md, "CNB_PROCESS_TYPE=worker", "KEEP=user", "CNB_EXEC_ENV=production")
	var stderr bytes.Buffer
	l.Stderr = &stderr
	env := envOf(t, l, "web")

	L := func(p string) string { return filepath.Join(f.layers, p) }
	checks := map[string]string{
		"PATH": strings.Join([]string{L("example_legacy/b/bin"), L("example_legacy/a/bin"),
			L("example_modern/b/bin"), L("example_modern/a/bin"), "/usr/local/bin", "/usr/bin", "/bin"}, ":"),
		"LD_LIBRARY_PATH": strings.Join([]string{L("example_legacy/b/lib"), L("example_legacy/a/lib"),
			L("example_modern/b/lib"), L("example_modern/a/lib")}, ":"),
		"ORDER":        "-example_modern/a-example_modern/b-example_legacy/a-example_legacy/b",
		"FIRST":        "example_legacy/b:example_legacy/a:example_modern/b:example_modern/a:",
		"LAST":         "example_legacy/b",
		"DEF":          "example_modern/a",
		"WHERE":        "env.launch/web",
		"ONLYWEB":      "yes\n",
		"KEEP":         "user",
		"GREETING":     "hello there",
		"CNB_EXEC_ENV": "production",
	}
	for k, want := range checks {
		if env[k] != want {
			t.Errorf("%s = %q, want %q", k, env[k], want)
		}
	}
	for _, k := range []string{"CNB_APP_DIR", "CNB_LAYERS_DIR", "CNB_PROCESS_TYPE", "CNB_PLATFORM_API", "CNB_DEPRECATION_MODE"} {
		if v, ok := env[k]; ok {
			t.Errorf("%s=%q reached the process, want it removed", k, v)
		}
	}
	if !strings.Contains(stderr.String(), "CNB_PROCESS_TYPE=worker is ignored") {
		t.Errorf("no CNB_PROCESS_TYPE warning on stderr: %q", stderr.String())
	}
	// env.launch/<type> applies only to that type.
	if other := envOf(t, f.launcher(md), "worker"); other["WHERE"] != "env.launch" || other["ONLYWEB"] != "" {
		t.Errorf("worker: WHERE=%q ONLYWEB=%q, want env.launch and unset", other["WHERE"], other["ONLYWEB"])
	}
}

// buildpack.md, Exec.d; buildpack.md, Launch (environment) step 3: exec.d programs run in the app dir with the env so far,
// write TOML to fd 3, and override variables; exec.d/<type> runs after exec.d.
func TestLaunchExecD(t *testing.T) {
	f := newFixture(t)
	md := testMetadata()
	f.write(t, "example_modern/a/env.launch/FROM_ENV", "env-file", 0o644)
	f.write(t, "example_modern/a/exec.d/10-first", `#!/bin/bash
set -e
echo "exec.d stdout"
printf 'SEEN = "%s"\nGREETING = "from exec.d"\nPWD_SEEN = "%s"\n' "$FROM_ENV" "$(pwd)" >&3
`, 0o755)
	f.write(t, "example_modern/a/exec.d/20-second", `#!/bin/bash
printf 'CHAIN = "%s+second"\n' "$GREETING" >&3
`, 0o755)
	f.write(t, "example_modern/a/exec.d/web/30-typed", `#!/bin/bash
printf 'CHAIN = "%s+typed"\n' "$CHAIN" >&3
`, 0o755)
	f.write(t, "example_legacy/z/exec.d/last", `#!/bin/bash
printf 'LAST_BP = "%s"\n' "$CHAIN" >&3
`, 0o755)

	l := f.launcher(md)
	var stdout bytes.Buffer
	l.Stdout = &stdout
	env := envOf(t, l, "web")
	checks := map[string]string{
		"SEEN":     "env-file",
		"GREETING": "from exec.d",
		"PWD_SEEN": f.app,
		"CHAIN":    "from exec.d+second+typed",
		"LAST_BP":  "from exec.d+second+typed",
	}
	for k, want := range checks {
		if env[k] != want {
			t.Errorf("%s = %q, want %q", k, env[k], want)
		}
	}
	if stdout.String() != "exec.d stdout\n" {
		t.Errorf("exec.d stdout = %q", stdout.String())
	}
	if w := envOf(t, f.launcher(md), "worker"); w["CHAIN"] != "from exec.d+second" {
		t.Errorf("worker CHAIN = %q: exec.d/web must run only for web", w["CHAIN"])
	}
}

// buildpack.md, Exec.d: a failing or misbehaving exec.d program aborts the launch.
func TestLaunchExecDFailure(t *testing.T) {
	tests := []struct {
		name, script, wantMsg string
	}{
		{name: "non-zero exit", script: "#!/bin/bash\nexit 3\n", wantMsg: "exit status 3"},
		{name: "output is not TOML", script: "#!/bin/bash\necho 'not toml' >&3\n", wantMsg: "parse output"},
		{name: "value is not a string", script: "#!/bin/bash\necho 'N = 1' >&3\n", wantMsg: "parse output"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			p := f.write(t, "example_modern/a/exec.d/bad", tc.script, 0o755)
			_, err := f.launcher(testMetadata()).Prepare(context.Background(), "web", nil)
			if err == nil {
				t.Fatal("Prepare succeeded, want exec.d failure")
			}
			if launch.ExitCode(err) != 82 || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("got %v (code %d), want code 82 naming %s and %q", err, launch.ExitCode(err), p, tc.wantMsg)
			}
		})
	}
}

// buildpack.md, Launch (environment) step 4: legacy (B<0.9) shell processes source profile.d, then
// profile.d/<type>, then <app>/.profile; modern buildpacks' profile.d is ignored.
func TestLaunchLegacyProfiles(t *testing.T) {
	f := newFixture(t)
	f.write(t, "example_legacy/a/profile.d/p1", `export PROF="${PROF}p1"`, 0o644)
	f.write(t, "example_legacy/a/profile.d/shell/p2", `export PROF="${PROF}+typed"`, 0o644)
	f.write(t, "example_modern/a/profile.d/ignored", `export PROF="${PROF}+modern"`, 0o644)
	f.write(t, filepath.Join(f.app, ".profile"), `export PROF="${PROF}+app"`, 0o644)
	md := testMetadata()
	i := slices.IndexFunc(md.Processes, func(p launch.Process) bool { return p.Type == "shell" })
	md.Processes[i].Command = []string{`echo "$PROF"`}
	x, err := f.launcher(md).Prepare(context.Background(), "shell", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := run(t, x); got != "p1+typed+app\n" {
		t.Errorf("output = %q, want p1+typed+app", got)
	}
}

// The launcher's private API ranges must match package api (docs/spec-notes.md, API versions).
func TestSupportedAPIsMatchAPIPackage(t *testing.T) {
	plo, phi, blo, bhi := launch.SupportedAPIs()
	got := []string{plo, phi, blo, bhi}
	want := []string{api.PlatformMin.String(), api.PlatformMax.String(), api.BuildpackMin.String(), api.BuildpackMax.String()}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("launch supports %v, api supports %v", got, want)
	}
}
