package golang

import (
	"bytes"
	"context"
	"fmt"
	"go/version"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// Layer names besides the toolchain: the module download cache and the build cache (cache
// only, so a one-file change recompiles only what changed) and the binaries (launch only).
const (
	layerModCache   = "go-mod-cache"
	layerBuildCache = "go-build-cache"
	layerBinaries   = "binaries"
)

// Build installs Go, builds the app's main packages into the binaries layer, removes the
// source from the app directory (buildpack.md, Build: a buildpack may modify or delete
// files in the application directory) and declares one process per binary.
func Build(ctx context.Context, bc sdk.BuildContext) (sdk.BuildResult, error) {
	log := bc.Log
	log.Title("Slipway Go buildpack")
	cfg, err := ReadConfig(bc.Env, bc.PlatformDir)
	if err != nil {
		return sdk.BuildResult{}, err
	}
	arch, err := goArch(bc.Target.Arch)
	if err != nil {
		return sdk.BuildResult{}, err
	}
	mod, err := ReadGoMod(bc.AppDir)
	if err != nil {
		return sdk.BuildResult{}, err
	}
	req, err := FindRequirement(cfg.Version, mod)
	if err != nil {
		return sdk.BuildResult{}, err
	}
	tmp, err := os.MkdirTemp("", "slipway-go-")
	if err != nil {
		return sdk.BuildResult{}, fmt.Errorf("create temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)

	creds, err := readCredentials(bc, filepath.Join(tmp, "home"))
	if err != nil {
		return sdk.BuildResult{}, err
	}
	defer creds.remove()
	goLayer, goVersion, err := contributeToolchain(ctx, bc, cfg, req, arch, tmp, creds)
	if err != nil {
		return sdk.BuildResult{}, err
	}
	if mod == nil {
		// A program without go.mod builds as the single module "app" at the toolchain's
		// language version; the file goes away with the rest of the source.
		log.Step("No go.mod: building the app root as module \"app\"")
		gomod := fmt.Sprintf("module app\n\ngo %s\n", strings.TrimPrefix(version.Lang(goVersion), "go"))
		if err := os.WriteFile(filepath.Join(bc.AppDir, "go.mod"), []byte(gomod), 0o644); err != nil {
			return sdk.BuildResult{}, fmt.Errorf("write go.mod: %w", err)
		}
	}
	caches := map[string]*sdk.Layer{}
	for _, name := range []string{layerModCache, layerBuildCache} {
		lay, err := bc.Layers.Get(name)
		if err != nil {
			return sdk.BuildResult{}, err
		}
		lay.Types = sdk.LayerTypes{Cache: true}
		if err := lay.Write(); err != nil {
			return sdk.BuildResult{}, err
		}
		caches[name] = lay
	}
	g := goCmd{dir: bc.AppDir, out: log.Writer(), env: buildEnv(bc, cfg, goLayer, caches)}
	if exists(filepath.Join(bc.AppDir, "vendor", "modules.txt")) {
		// Vendored modules build without any network: the proxy is switched off for go.
		log.Step("Using vendor/ (-mod=vendor, GOPROXY=off): no module downloads")
		g.env = append(g.env, "GOPROXY=off", "GOFLAGS="+strings.TrimSpace(g.get("GOFLAGS")+" -mod=vendor"))
	}
	g.env = append(g.env, creds.env()...)

	module := "app"
	if mod != nil {
		module = mod.Module
	}
	targets, err := findTargets(ctx, bc.AppDir, cfg.Targets, module, g)
	if err != nil {
		return sdk.BuildResult{}, err
	}
	bins, err := bc.Layers.Get(layerBinaries)
	if err != nil {
		return sdk.BuildResult{}, err
	}
	if err := bins.Reset(); err != nil {
		return sdk.BuildResult{}, err
	}
	args := []string{"build", "-trimpath"}
	if !exists(filepath.Join(bc.AppDir, ".git")) {
		args = append(args, "-buildvcs=false")
	} else if _, err := exec.LookPath("git"); err != nil {
		log.Detail(".git is present but the build image has no git: -buildvcs=false")
		args = append(args, "-buildvcs=false")
	}
	args = append(args, cfg.BuildFlags...)
	if cfg.LDFlags != "" {
		args = append(args, "-ldflags="+cfg.LDFlags)
	}
	binDir := filepath.Join(bins.Path, "bin")
	args = append(args, "-o", binDir+"/")
	for _, t := range targets {
		args = append(args, t.ImportPath)
	}
	log.Step("Building %s", describeTargets(targets))
	log.Detail("go %s", strings.Join(args, " "))
	if err := g.run(ctx, "build", args...); err != nil {
		return sdk.BuildResult{}, err
	}
	for _, t := range targets {
		if !exists(filepath.Join(binDir, t.Binary)) {
			return sdk.BuildResult{}, fmt.Errorf("go build wrote no %s for %s", t.Binary, t.ImportPath)
		}
	}
	if err := bins.LaunchEnv().Default("PORT", "8080"); err != nil {
		return sdk.BuildResult{}, err
	}
	bins.Metadata = map[string]any{"go": goVersion}
	bins.Types = sdk.LayerTypes{Launch: true}
	if err := bins.Write(); err != nil {
		return sdk.BuildResult{}, err
	}

	removed, err := removeSource(bc.AppDir, cfg.KeepFiles)
	if err != nil {
		return sdk.BuildResult{}, err
	}
	if len(cfg.KeepFiles) > 0 {
		log.Step("Removed %d source files from the app directory; kept BP_KEEP_FILES=%s", removed, strings.Join(cfg.KeepFiles, ":"))
	} else {
		log.Step("Removed %d source files from the app directory (keep some with BP_KEEP_FILES)", removed)
	}

	var res sdk.BuildResult
	for i, t := range targets {
		cmd := []string{filepath.Join(binDir, t.Binary)}
		if i == 0 {
			res.Launch.Processes = append(res.Launch.Processes, sdk.Process{Type: "web", Command: cmd, Default: true})
			log.Step("Process web: %s", t.Binary)
		}
		if t.Binary != "web" {
			res.Launch.Processes = append(res.Launch.Processes, sdk.Process{Type: t.Binary, Command: cmd})
			log.Step("Process %s: %s", t.Binary, t.Binary)
		}
	}
	return res, nil
}

// buildEnv is the environment of every go invocation: the user's environment, the go
// settings read from <platform>/env, the toolchain on PATH, caches in their layers.
func buildEnv(bc sdk.BuildContext, cfg Config, goLayer *sdk.Layer, caches map[string]*sdk.Layer) []string {
	var kv []string
	for k, v := range cfg.GoEnv {
		kv = append(kv, k+"="+v)
	}
	if _, ok := cfg.GoEnv["CGO_ENABLED"]; !ok {
		kv = append(kv, "CGO_ENABLED=0")
	}
	mc := caches[layerModCache].Path
	kv = append(kv,
		"PATH="+filepath.Join(goLayer.Path, "bin")+":"+bc.Env.Get("PATH"),
		"GOROOT="+goLayer.Path,
		// The toolchain was chosen from go.mod already; go must not switch again.
		"GOTOOLCHAIN=local",
		"GOMODCACHE="+filepath.Join(mc, "mod"),
		"GOPATH="+filepath.Join(mc, "gopath"),
		"GOCACHE="+caches[layerBuildCache].Path,
		"GOTELEMETRY=off",
		// A writable module cache can be replaced and cleaned like any other layer.
		"GOFLAGS="+strings.TrimSpace(cfg.GoEnv["GOFLAGS"]+" -modcacherw"),
	)
	return bc.Env.List(kv...)
}

// goCmd runs the toolchain's go command in the app directory.
type goCmd struct {
	dir string
	env []string
	out io.Writer
}

func (g goCmd) get(name string) string {
	v := ""
	for _, kv := range g.env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == name {
			v = val
		}
	}
	return v
}

// GoError is a failed go command: its own output (compiler messages with file:line, the
// proxy URL of a missing module) is part of the message.
type GoError struct {
	Step, Output, Proxy string
	Err                 error
}

func (e *GoError) Error() string {
	out := strings.TrimSpace(e.Output)
	msg := fmt.Sprintf("go %s failed (%v)", e.Step, e.Err)
	if out != "" {
		msg += ":\n" + out
	}
	if strings.Contains(out, "go: ") && (strings.Contains(out, "@v/") || strings.Contains(out, "module")) {
		msg += "\n(module proxy: GOPROXY=" + e.Proxy + ")"
	}
	return msg
}

func (e *GoError) Unwrap() error { return e.Err }

// run streams go's output to the log and keeps its tail for the error.
func (g goCmd) run(ctx context.Context, step string, args ...string) error {
	_, err := g.output(ctx, step, args...)
	return err
}

func (g goCmd) output(ctx context.Context, step string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(g.get("GOROOT"), "bin", "go"), args...)
	cmd.Dir, cmd.Env = g.dir, g.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = io.MultiWriter(g.out, &tail{buf: &stderr, max: 16 << 10})
	if step == "build" {
		cmd.Stdout = io.MultiWriter(g.out, &stdout)
	}
	if err := cmd.Run(); err != nil {
		proxy := g.get("GOPROXY")
		if proxy == "" {
			proxy = DefaultGOPROXY
		}
		return nil, &GoError{Step: step, Output: stderr.String(), Proxy: proxy, Err: err}
	}
	return stdout.Bytes(), nil
}

// tail keeps the last max bytes written.
type tail struct {
	buf *bytes.Buffer
	max int
}

func (t *tail) Write(p []byte) (int, error) {
	t.buf.Write(p)
	if over := t.buf.Len() - t.max; over > 0 {
		t.buf.Next(over)
	}
	return len(p), nil
}
