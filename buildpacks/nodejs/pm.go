package nodejs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// PackageManager is how dependencies are installed, chosen by the app's lockfile.
type PackageManager struct {
	Name     string // npm, yarn, pnpm
	Berry    bool   // yarn ≥ 2
	Lockfile string // "" when there is none (npm install)
	// Corepack is true when yarn/pnpm run through corepack (yarn berry, or pnpm pinned by
	// packageManager); otherwise they come from the npm registry (chooseTool).
	Corepack bool
}

// DetectPackageManager picks the package manager from the lockfile present: pnpm-lock.yaml
// → pnpm; yarn.lock → yarn (berry when it has a __metadata block); package-lock.json or
// npm-shrinkwrap.json → npm ci; none → npm install.
func DetectPackageManager(appDir string) (PackageManager, error) {
	if exists(filepath.Join(appDir, "pnpm-lock.yaml")) {
		return PackageManager{Name: "pnpm", Lockfile: "pnpm-lock.yaml"}, nil
	}
	if b, err := os.ReadFile(filepath.Join(appDir, "yarn.lock")); err == nil {
		berry := bytes.Contains(b, []byte("\n__metadata:"))
		return PackageManager{Name: "yarn", Lockfile: "yarn.lock", Berry: berry, Corepack: berry}, nil
	}
	for _, f := range []string{"npm-shrinkwrap.json", "package-lock.json"} {
		if exists(filepath.Join(appDir, f)) {
			return PackageManager{Name: "npm", Lockfile: f}, nil
		}
	}
	return PackageManager{Name: "npm"}, nil
}

// usesCorepack reports whether the manager is fetched by corepack.
func (pm PackageManager) usesCorepack() bool { return pm.Name != "npm" && pm.Corepack }

// command is the manager's command line with args: "corepack <pm> …" or "<pm> …".
func (pm PackageManager) command(args ...string) []string {
	if pm.usesCorepack() {
		return append([]string{"corepack", pm.Name}, args...)
	}
	return append([]string{pm.Name}, args...)
}

// installArgs is the command that installs dependencies into the current directory; prod
// omits dev dependencies. Each frozen form fails when the lockfile is out of sync.
func (pm PackageManager) installArgs(prod bool, cacheDir string) []string {
	switch {
	case pm.Name == "npm" && pm.Lockfile != "":
		a := []string{"npm", "ci", "--cache", cacheDir, "--prefer-offline", "--no-audit", "--no-fund"}
		if prod {
			return append(a, "--omit=dev")
		}
		return append(a, "--include=dev")
	case pm.Name == "npm":
		a := []string{"npm", "install", "--cache", cacheDir, "--prefer-offline", "--no-audit", "--no-fund", "--no-package-lock"}
		if prod {
			return append(a, "--omit=dev")
		}
		return append(a, "--include=dev")
	case pm.Name == "yarn" && pm.Berry:
		if prod {
			return pm.command("workspaces", "focus", "--all", "--production")
		}
		return pm.command("install", "--immutable")
	case pm.Name == "yarn":
		return pm.command("install", "--frozen-lockfile", "--non-interactive",
			"--cache-folder", cacheDir, "--production="+fmt.Sprint(prod))
	default: // pnpm
		a := pm.command("install", "--frozen-lockfile", "--store-dir", cacheDir, "--config.confirmModulesPurge=false")
		if prod {
			return append(a, "--prod")
		}
		return a
	}
}

// projectFiles are copied next to the installed node_modules so the package manager sees
// the app's configuration.
var projectFiles = []string{"package.json", "package-lock.json", "npm-shrinkwrap.json", "yarn.lock",
	"pnpm-lock.yaml", "pnpm-workspace.yaml", ".npmrc", ".yarnrc", ".yarnrc.yml", ".pnpmfile.cjs"}

// CommandError is a failed child process: its exit code and the tail of its output.
type CommandError struct {
	Command  string
	Dir      string
	ExitCode int
	Tail     []string
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("%s failed with exit code %d (in %s); last output:\n    %s", e.Command, e.ExitCode, e.Dir,
		strings.Join(e.Tail, "\n    "))
}

// runCommand runs args in dir, streaming output to out and keeping the last lines for the
// error.
func runCommand(ctx context.Context, dir string, env []string, out io.Writer, args ...string) error {
	// Resolve the program in the child's PATH (the node layer first), not the buildpack's.
	bin, err := lookPath(args[0], env)
	if err != nil {
		return fmt.Errorf("run %s: %w", strings.Join(args, " "), err)
	}
	cmd := exec.CommandContext(ctx, bin, args[1:]...)
	cmd.Dir = dir
	cmd.Env = env
	tail := &tailWriter{n: 20}
	w := io.MultiWriter(out, tail)
	cmd.Stdout, cmd.Stderr = w, w
	err = cmd.Run()
	if err == nil {
		return nil
	}
	code := -1
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		return fmt.Errorf("run %s in %s: %w", strings.Join(args, " "), dir, err)
	}
	return &CommandError{Command: strings.Join(args, " "), Dir: dir, ExitCode: code, Tail: tail.lines()}
}

// lookPath resolves name in the PATH of env (not the buildpack's own PATH).
func lookPath(name string, env []string) (string, error) {
	for _, kv := range env {
		if p, ok := strings.CutPrefix(kv, "PATH="); ok {
			for _, d := range filepath.SplitList(p) {
				f := filepath.Join(d, name)
				if fi, err := os.Stat(f); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
					return f, nil
				}
			}
		}
	}
	return "", fmt.Errorf("%s not found in PATH", name)
}

// tailWriter keeps the last n lines written to it.
type tailWriter struct {
	n    int
	buf  []string
	part []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.part = append(t.part, p...)
	for {
		i := bytes.IndexByte(t.part, '\n')
		if i < 0 {
			break
		}
		t.add(string(t.part[:i]))
		t.part = t.part[i+1:]
	}
	return len(p), nil
}

func (t *tailWriter) add(l string) {
	t.buf = append(t.buf, strings.TrimRight(l, "\r"))
	if len(t.buf) > t.n {
		t.buf = t.buf[len(t.buf)-t.n:]
	}
}

func (t *tailWriter) lines() []string {
	if len(t.part) > 0 {
		t.add(string(t.part))
		t.part = nil
	}
	return t.buf
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
