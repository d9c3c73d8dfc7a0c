package dist

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// Buildpack is one of our buildpacks: its source dir (holding buildpack.toml) and main package.
type Buildpack struct {
	ID      string
	Version string
	// Dir is relative to the buildpacks/ directory.
	Dir string
}

// All are the buildpacks Package builds.
var All = []Buildpack{
	{ID: "slipway/nodejs", Version: "0.1.0", Dir: "nodejs"},
	{ID: "slipway/go", Version: "0.1.0", Dir: "go"},
	{ID: "slipway/procfile", Version: "0.1.0", Dir: "procfile"},
	{ID: "slipway/apt", Version: "0.1.0", Dir: "apt"},
	{ID: "slipway/python", Version: "0.1.0", Dir: "python"},
	{ID: "slipway/php", Version: "0.1.0", Dir: "php"},
	{ID: "slipway/web-server", Version: "0.1.0", Dir: "webserver"},
	{ID: "slipway/ruby", Version: "0.1.0", Dir: "ruby"},
	{ID: "slipway/java", Version: "0.1.0", Dir: "java"},
}

// Options tune Package.
type Options struct {
	// Arch is GOARCH of the binaries; empty means amd64.
	Arch string
	// Environ is the environment of `go build`; nil means os.Environ().
	Environ []string
	// SourceDir is the buildpacks/ directory to build from; empty means the one this
	// package was compiled from.
	SourceDir string
}

// Package compiles every buildpack in All (CGO_ENABLED=0, static) and writes
// <outDir>/<escaped-id>/<version>/{buildpack.toml,bin/build,bin/detect}, the layout of
// /cnb/buildpacks (platform.md, Usage (default locations)), returning the buildpack directories by ID. bin/detect
// and bin/build are one binary (hard links when possible) that dispatches on argv0.
func Package(ctx context.Context, outDir string, opts Options) (map[string]string, error) {
	var err error
	src := opts.SourceDir
	if src == "" {
		if src, err = sourceDir(); err != nil {
			return nil, err
		}
	}
	// go build runs in the source tree, so a relative outDir must not be read from there.
	if outDir, err = filepath.Abs(outDir); err != nil {
		return nil, err
	}
	arch := opts.Arch
	if arch == "" {
		arch = "amd64"
	}
	env := opts.Environ
	if env == nil {
		env = os.Environ()
	}
	env = append(env, "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	out := map[string]string{}
	for _, bp := range All {
		dir := filepath.Join(outDir, sdk.EscapeID(bp.ID), bp.Version)
		bin := filepath.Join(dir, "bin")
		if err := os.MkdirAll(bin, 0o755); err != nil {
			return nil, fmt.Errorf("package %s: %w", bp.ID, err)
		}
		build := filepath.Join(bin, "build")
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", build,
			"./"+filepath.ToSlash(filepath.Join(bp.Dir, "cmd", filepath.Base(bp.Dir))))
		cmd.Dir = src
		cmd.Env = env
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("package %s: go build: %w\n%s", bp.ID, err, b)
		}
		detect := filepath.Join(bin, "detect")
		os.Remove(detect)
		if err := os.Link(build, detect); err != nil {
			if err := os.Symlink("build", detect); err != nil {
				return nil, fmt.Errorf("package %s: %w", bp.ID, err)
			}
		}
		desc, err := os.ReadFile(filepath.Join(src, bp.Dir, "buildpack.toml"))
		if err != nil {
			return nil, fmt.Errorf("package %s: %w", bp.ID, err)
		}
		if err := sdk.WriteFileAtomic(filepath.Join(dir, "buildpack.toml"), desc, 0o644); err != nil {
			return nil, fmt.Errorf("package %s: %w", bp.ID, err)
		}
		out[bp.ID] = dir
	}
	return out, nil
}

// sourceDir is the buildpacks/ directory of this source tree.
func sourceDir() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("locate buildpacks source: no caller information")
	}
	return filepath.Dir(filepath.Dir(file)), nil
}
