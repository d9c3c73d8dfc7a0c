package bootstrap

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/slipway/slipway/buildpacks/dist"
)

// modulePath is slipway's Go module.
const modulePath = "github.com/slipway/slipway"

// Options say where the assets are cached and how to report the one-time build.
type Options struct {
	// CacheDir is slipway's cache dir (--work-dir); assets go to <CacheDir>/bootstrap/<key>.
	CacheDir string
	// Logf, when set, announces a build of the assets (it takes a few seconds, once).
	Logf func(format string, args ...any)
}

// Launcher returns the path of a static launcher built from the same source as this
// slipway binary.
func Launcher(ctx context.Context, o Options) (string, error) {
	dir, err := ensure(ctx, o)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "launcher"), nil
}

// Buildpacks returns the default builder's buildpacks built from the same source as this
// slipway binary, laid out as `go run ./internal/defaultbuilder/gen` lays them out for
// embedding (no bin/detect: the default builder links it to bin/build).
func Buildpacks(ctx context.Context, o Options) (fs.FS, error) {
	dir, err := ensure(ctx, o)
	if err != nil {
		return nil, err
	}
	return os.DirFS(filepath.Join(dir, "buildpacks")), nil
}

// ensure builds the assets into <CacheDir>/bootstrap/<key> unless they are there. The key
// is a hash of the running slipway executable, so a rebuilt or upgraded slipway never
// uses assets of another source; a finished build is renamed into place whole.
func ensure(ctx context.Context, o Options) (string, error) {
	key, err := executableKey()
	if err != nil {
		return "", err
	}
	dest := filepath.Join(o.CacheDir, "bootstrap", key)
	if _, err := os.Stat(filepath.Join(dest, "launcher")); err == nil {
		return dest, nil
	}
	src, err := Source(ctx)
	if err != nil {
		return "", err
	}
	goBin, err := goTool()
	if err != nil {
		return "", err
	}
	if o.Logf != nil {
		o.Logf("Building slipway's launcher and buildpacks from %s with %s (once for this slipway binary; `make build` embeds them instead)", src, goBin)
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return "", fmt.Errorf("bootstrap slipway assets: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dest), key+".tmp-")
	if err != nil {
		return "", fmt.Errorf("bootstrap slipway assets: %w", err)
	}
	defer os.RemoveAll(tmp)
	env := append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH, "GOFLAGS=-buildvcs=false")
	// PATH must lead dist.Package's `go build` to the same toolchain.
	env = append(env, "PATH="+filepath.Dir(goBin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(tmp, "launcher"), "./cmd/launcher")
	cmd.Dir = src
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("bootstrap slipway assets: build the launcher in %s: %w\n%s", src, err, out)
	}
	dirs, err := dist.Package(ctx, filepath.Join(tmp, "buildpacks"), dist.Options{Arch: runtime.GOARCH, Environ: env, SourceDir: filepath.Join(src, "buildpacks")})
	if err != nil {
		return "", fmt.Errorf("bootstrap slipway assets: %w", err)
	}
	for _, d := range dirs {
		if err := os.Remove(filepath.Join(d, "bin", "detect")); err != nil {
			return "", fmt.Errorf("bootstrap slipway assets: %w", err)
		}
	}
	if err := os.Rename(tmp, dest); err != nil {
		if _, serr := os.Stat(filepath.Join(dest, "launcher")); serr == nil {
			return dest, nil // another slipway finished first with the same bytes
		}
		return "", fmt.Errorf("bootstrap slipway assets: %w", err)
	}
	return dest, nil
}

// executableKey hashes the running binary.
func executableKey() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("bootstrap slipway assets: find the slipway binary: %w", err)
	}
	f, err := os.Open(exe)
	if err != nil {
		return "", fmt.Errorf("bootstrap slipway assets: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("bootstrap slipway assets: read %s: %w", exe, err)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// Source finds the module source this binary was built from: the directory its own files
// were compiled from (a checkout, or the module cache after `go install …@version`), else,
// for a -trimpath build of a released version, the module cache entry `go mod download`
// gives for that version.
func Source(ctx context.Context) (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		root := filepath.Dir(filepath.Dir(filepath.Dir(file)))
		if isModuleRoot(root) {
			return root, nil
		}
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok || bi.Main.Path != modulePath || bi.Main.Version == "" || bi.Main.Version == "(devel)" {
		return "", errors.New("this slipway has no embedded launcher or buildpacks and its source cannot be found (it was built with -trimpath from a local checkout); build it with `make build`, or `go install` it without -trimpath")
	}
	goBin, err := goTool()
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, goBin, "mod", "download", "-json", modulePath+"@"+bi.Main.Version)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	cmd.Dir = os.TempDir()
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("find slipway %s source: go mod download: %w\n%s%s", bi.Main.Version, err, stderr.Bytes(), out.Bytes())
	}
	var m struct{ Dir string }
	if err := json.Unmarshal(out.Bytes(), &m); err != nil || !isModuleRoot(m.Dir) {
		return "", fmt.Errorf("find slipway %s source: go mod download gave no module directory", bi.Main.Version)
	}
	return m.Dir, nil
}

func isModuleRoot(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	first, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(first) == "module "+modulePath
}

// goTool is the Go command to build with: `go` on PATH, else the toolchain that built this
// binary (its GOROOT, when it still exists).
func goTool() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	// The build-time GOROOT: the toolchain the user evidently has.
	if root := runtime.GOROOT(); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("this slipway has no embedded launcher or buildpacks and no Go toolchain is on PATH to build them (%s built it); put `go` on PATH, or install a release build of slipway", runtime.Version())
}
