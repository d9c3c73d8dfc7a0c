package main

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// launcherBin is cmd/launcher built once, exactly as images ship it.
var launcherBin string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "launcher-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		launcherBin = filepath.Join(dir, "launcher")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", launcherBin, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build launcher: %v\n%s", err, out)
			return 1
		}
		return m.Run()
	}())
}

// docs/architecture.md, "Launcher": the launcher imports only the standard library, package
// launch and the TOML decoder — never cobra, registry code or the rest of slipway.
func TestLauncherImportGuard(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	allowed := func(p string) bool {
		return p == "github.com/slipway/slipway/cmd/launcher" ||
			p == "github.com/slipway/slipway/launch" ||
			p == "github.com/BurntSushi/toml" || strings.HasPrefix(p, "github.com/BurntSushi/toml/")
	}
	var deps []string
	for _, p := range strings.Fields(string(out)) {
		deps = append(deps, p)
		for _, banned := range []string{"github.com/spf13/cobra", "github.com/google/go-containerregistry"} {
			if strings.HasPrefix(p, banned) {
				t.Errorf("launcher imports %s", p)
			}
		}
		if !allowed(p) {
			t.Errorf("launcher imports %s: only the standard library, launch and BurntSushi/toml are allowed", p)
		}
	}
	if len(deps) == 0 {
		t.Fatal("go list reported no non-standard packages; the guard is not looking at the launcher")
	}
}

// The launcher is copied into every image: it must be static (no ELF interpreter, no
// shared libraries) and small.
func TestLauncherBinaryIsStaticAndSmall(t *testing.T) {
	const maxSize = 4 << 20
	fi, err := os.Stat(launcherBin)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > maxSize {
		t.Errorf("launcher is %d bytes, want <= %d", fi.Size(), maxSize)
	}
	f, err := elf.Open(launcherBin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("launcher has a PT_INTERP program header: it is dynamically linked")
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("launcher needs shared libraries %v (%v)", libs, err)
	}
}

const e2eMetadata = `buildpack-default-process-type = "web"

[[buildpacks]]
  id = "example/modern"
  version = "1.0.0"
  api = "0.12"

[[buildpacks]]
  id = "example/legacy"
  version = "0.1.0"
  api = "0.8"

[[processes]]
  type = "web"
  command = ["hello", "web"]
  args = ["default-arg"]
  direct = false
  buildpack-id = "example/modern"

[[processes]]
  type = "exits"
  command = ["bash", "-c", "exit 7"]
  args = []
  direct = false
  buildpack-id = "example/modern"

[[processes]]
  type = "wd"
  command = ["pwd"]
  args = []
  direct = false
  buildpack-id = "example/modern"
  working-dir = "sub"

[[processes]]
  type = "failing"
  command = ["hello"]
  args = []
  direct = false
  buildpack-id = "example/modern"

[[processes]]
  type = "legacy"
  command = ["hello $GREETING"]
  args = []
  direct = false
  buildpack-id = "example/legacy"
`

// e2eImage lays out an image filesystem: layers with a bin/ program, env files and
// exec.d, metadata.toml, and /cnb/process-style symlinks to the launcher.
func e2eImage(t *testing.T) (layers, app, procDir string) {
	t.Helper()
	root := t.TempDir()
	layers, app, procDir = filepath.Join(root, "layers"), filepath.Join(root, "workspace"), filepath.Join(root, "process")
	files := map[string]string{
		"config/metadata.toml":                     e2eMetadata,
		"example_modern/tools/bin/hello":           "#!/bin/bash\necho \"hello $* GREETING=$GREETING FROM_EXECD=$FROM_EXECD\"\n",
		"example_modern/tools/env.launch/GREETING": "from-env-file",
		"example_modern/tools/exec.d/setvar":       "#!/bin/bash\necho 'FROM_EXECD = \"yes\"' >&3\n",
		"example_modern/tools/exec.d/failing/boom": "#!/bin/bash\necho exec.d failing >&2\nexit 1\n",
		"example_legacy/old/env.launch/OLD":        "old",
	}
	for rel, content := range files {
		p := filepath.Join(layers, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{filepath.Join(app, "sub"), procDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, typ := range []string{"web", "exits", "wd", "failing", "legacy"} {
		if err := os.Symlink(launcherBin, filepath.Join(procDir, typ)); err != nil {
			t.Fatal(err)
		}
	}
	return layers, app, procDir
}

// platform.md, launcher: the real launcher binary, started through process-type symlinks, in
// a prepared image filesystem; the exit code is the process's (buildpack.md, Launch).
func TestLauncherEndToEnd(t *testing.T) {
	layers, app, procDir := e2eImage(t)
	baseEnv := []string{
		"CNB_APP_DIR=" + app,
		"CNB_LAYERS_DIR=" + layers,
		"CNB_PLATFORM_API=0.15",
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"HOME=" + app,
	}
	tests := []struct {
		name       string
		argv0      string // a type under procDir, or "" for the launcher itself
		args       []string
		env        []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "buildpack.md, Launch: argv0 selects web, buildpack.md, Launch (environment) env files and exec.d apply", argv0: "web",
			wantStdout: "hello web default-arg GREETING=from-env-file FROM_EXECD=yes\n"},
		{name: "buildpack.md, Launch: user args replace B0.12 args", argv0: "web", args: []string{"x", "y z"},
			wantStdout: "hello web x y z GREETING=from-env-file FROM_EXECD=yes\n"},
		{name: "buildpack.md, Launch: exit code passthrough", argv0: "exits", wantCode: 7},
		{name: "buildpack.md, Launch: working-dir", argv0: "wd", wantStdout: filepath.Join(app, "sub") + "\n"},
		{name: "buildpack.md, Launch: launcher with no args runs the default process", wantStdout: "hello web default-arg GREETING=from-env-file FROM_EXECD=yes\n"},
		{name: "buildpack.md, Launch: -- direct command with exit code", args: []string{"--", "bash", "-c", "echo direct; exit 9"}, wantCode: 9, wantStdout: "direct\n"},
		{name: "buildpack.md, Launch: shell command sees the launch env", args: []string{"echo $GREETING $OLD; exit 5"}, wantCode: 5, wantStdout: "from-env-file old\n"},
		{name: "buildpack.md, Launch: B0.8 shell process", argv0: "legacy", wantStdout: "hello from-env-file GREETING=from-env-file FROM_EXECD=yes\n"},
		{name: "buildpack.md, Exec.d: failing exec.d aborts with 82", argv0: "failing", wantCode: 82, wantStderr: "exec.d failing"},
		{name: "platform.md, Platform API Compatibility: unsupported platform API exits 11", argv0: "web", env: []string{"CNB_PLATFORM_API=0.2"}, wantCode: 11, wantStderr: "platform API 0.2"},
		{name: "platform.md, launcher: missing metadata exits 82", argv0: "web", env: []string{"CNB_LAYERS_DIR=" + app}, wantCode: 82, wantStderr: "metadata.toml"},
		{name: "platform.md, launcher: CNB_PROCESS_TYPE is ignored with a warning", argv0: "wd", env: []string{"CNB_PROCESS_TYPE=web"},
			wantStdout: filepath.Join(app, "sub") + "\n", wantStderr: "CNB_PROCESS_TYPE=web is ignored"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bin := launcherBin
			if tc.argv0 != "" {
				bin = filepath.Join(procDir, tc.argv0)
			}
			cmd := exec.Command(bin, tc.args...)
			cmd.Env = append(append([]string{}, baseEnv...), tc.env...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.wantCode {
				t.Errorf("exit code = %d, want %d; stderr:\n%s", code, tc.wantCode, stderr.String())
			}
			if tc.wantStdout != "" && stdout.String() != tc.wantStdout {
				t.Errorf("stdout = %q, want %q", stdout.String(), tc.wantStdout)
			}
			if !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr.String(), tc.wantStderr)
			}
		})
	}
}

// launchDirect runs cmd through the real launcher ("--" direct form) with SLIPWAY_INIT.
func launchDirect(t *testing.T, init string, cmd ...string) *exec.Cmd {
	t.Helper()
	layers, app, _ := e2eImage(t)
	c := exec.Command(launcherBin, append([]string{"--"}, cmd...)...)
	c.Env = []string{"CNB_APP_DIR=" + app, "CNB_LAYERS_DIR=" + layers, "PATH=/usr/local/bin:/usr/bin:/bin", "SLIPWAY_INIT=" + init}
	return c
}

// PID-1 duties (launch/init.go): the process runs as the launcher's child; orphaned
// grandchildren are reaped rather than left as zombies. The launcher is a child subreaper
// here (SLIPWAY_INIT=true), so orphans reach it as they would reach PID 1.
func TestLauncherInitReapsOrphans(t *testing.T) {
	// The process leaves ten orphans that exit at once, waits, then counts zombies whose
	// parent is the launcher ($PPID of the shell).
	script := `for i in 1 2 3 4 5 6 7 8 9 10; do (true &) ; done; sleep 1;
z=0; for s in /proc/[0-9]*/stat; do set -- $(cat $s 2>/dev/null); [ "$3" = Z ] && [ "$4" = "$PPID" ] && z=$((z+1)); done
echo "zombies=$z parent=$(cat /proc/$PPID/comm)"`
	for _, tc := range []struct {
		init, want string
	}{
		{"true", "zombies=0 parent=launcher"},
	} {
		c := launchDirect(t, tc.init, "bash", "-c", script)
		out, err := c.CombinedOutput()
		if err != nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("SLIPWAY_INIT=%s: %v\n%s\nwant %q", tc.init, err, out, tc.want)
		}
	}
}

// Signals sent to the launcher reach the process, whose exit status is the launcher's:
// a SIGTERM handler runs (exit 143 = 128+15 by its own choice), and a process killed by an
// unhandled SIGTERM is reported as 143 too; SIGUSR1 is forwarded as well.
func TestLauncherInitForwardsSignals(t *testing.T) {
	cases := []struct {
		name     string
		script   string
		signals  []syscall.Signal
		wantOut  string
		wantCode int
	}{
		{"handler runs", `trap 'echo got TERM; exit 143' TERM; echo ready; while :; do sleep 0.05; done`,
			[]syscall.Signal{syscall.SIGTERM}, "got TERM", 143},
		{"every signal", `trap 'echo got USR1' USR1; trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 0.05; done`,
			[]syscall.Signal{syscall.SIGUSR1, syscall.SIGTERM}, "got USR1\ngot TERM", 7},
		{"killed by the signal", `echo ready; exec sleep 60`, []syscall.Signal{syscall.SIGTERM}, "", 143},
		// npm start → sh → node: the last process of the chain gets the signal too, because
		// it goes to the process group.
		{"reaches the end of a chain", `bash -c 'trap "echo inner got TERM; exit 0" TERM; echo ready; for i in $(seq 60); do sleep 0.05; done; echo inner never signalled'; echo outer done`,
			[]syscall.Signal{syscall.SIGTERM}, "inner got TERM", 143},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := launchDirect(t, "true", "bash", "-c", tc.script)
			stdout, err := c.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			c.Stderr = &stderr
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 6)
			if _, err := io.ReadFull(stdout, buf); err != nil || string(buf) != "ready\n" {
				t.Fatalf("read ready: %q %v; stderr %s", buf, err, stderr.String())
			}
			for _, s := range tc.signals {
				if err := c.Process.Signal(s); err != nil {
					t.Fatal(err)
				}
				time.Sleep(200 * time.Millisecond) // let bash run the trap before the next signal
			}
			rest, _ := io.ReadAll(stdout)
			err = c.Wait()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			}
			if code != tc.wantCode || !strings.Contains(string(rest), tc.wantOut) {
				t.Errorf("exit %d output %q (stderr %q); want %d %q", code, rest, stderr.String(), tc.wantCode, tc.wantOut)
			}
		})
	}
}

// SLIPWAY_INIT=false (the opt-out) execs the process: it replaces the launcher.
func TestLauncherInitOptOut(t *testing.T) {
	for init, want := range map[string]string{"false": "bash", "true": "launcher"} {
		out, err := launchDirect(t, init, "bash", "-c", "cat /proc/$PPID/comm; echo self=$(cat /proc/$$/comm)").CombinedOutput()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		// With exec, bash is the launcher's pid: its parent is the test, not a launcher.
		parent, _, _ := strings.Cut(string(out), "\n")
		if (parent == "launcher") != (want == "launcher") {
			t.Errorf("SLIPWAY_INIT=%s: %q", init, out)
		}
	}
	if out, err := launchDirect(t, "maybe", "true").CombinedOutput(); err == nil || !strings.Contains(string(out), "SLIPWAY_INIT") {
		t.Errorf("bad SLIPWAY_INIT accepted: %v %s", err, out)
	}
}
