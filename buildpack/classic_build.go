package buildpack

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/slipway/slipway/fscopy"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/slipway/slipway/launch"
	"github.com/slipway/slipway/tomlfile"
)

// Layer names a classic buildpack's build produces in <layers>/classic_<name>/.
const (
	// classicCacheLayer is CACHE_DIR: a cache layer, restored before and saved after each
	// build (Heroku: "The contents of CACHE_DIR will be persisted between builds").
	classicCacheLayer = "cache"
	// classicExportLayer carries what the buildpack's export file sets to later buildpacks
	// as build-only env (Heroku, Using multiple buildpacks: export).
	classicExportLayer = "export"
	// classicConfigLayer carries bin/release config_vars as launch env defaults.
	classicConfigLayer = "config-vars"
	// classicDepsLayer is DEPS_DIR/<idx> of a Cloud Foundry buildpack: its bin, lib and env
	// have the same meaning as a CNB layer's, and its profile.d scripts are sourced at
	// launch like a B < 0.9 layer's.
	classicDepsLayer = "deps"
)

// ClassicDepsDir is DEPS_DIR relative to the app dir. Cloud Foundry keeps deps beside the
// app (/home/vcap/deps); here <app>/.deps/<idx> are links into each buildpack's deps layer,
// so the absolute paths buildpacks bake in are the same during the build and at launch.
const ClassicDepsDir = ".deps"

// classicStep is one classic executable and its arguments.
type classicStep struct {
	name string // compile, supply, finalize
	args []string
}

// buildClassic runs a classic buildpack (see classic.go) and reads back what it produced
// through the same layer/launch.toml files a CNB buildpack writes.
func (d *Descriptor) buildClassic(ctx context.Context, cfg BuildConfig) (*BuildResult, error) {
	bpLayersDir := filepath.Join(cfg.LayersDir, EscapedID(d.Buildpack.ID))
	if err := os.MkdirAll(bpLayersDir, 0o777); err != nil {
		return nil, fmt.Errorf("create layers dir for buildpack %s: %w", d.Ref(), err)
	}
	// Heroku buildpacks write files next to their scripts (export, caches of their own):
	// they run from a private writable copy, never from the read-only buildpacks dir.
	work, err := os.MkdirTemp("", "classic-"+EscapedID(d.Buildpack.ID)+"-")
	if err != nil {
		return nil, fmt.Errorf("buildpack %s: %w", d.Ref(), err)
	}
	defer os.RemoveAll(work)
	bpDir := filepath.Join(work, "buildpack")
	if err := fscopy.Tree(d.Classic.Tree, bpDir); err != nil {
		return nil, fmt.Errorf("buildpack %s: copy to a writable directory: %w", d.Ref(), err)
	}
	envDir := filepath.Join(work, "env")
	if err := writeClassicEnvDir(cfg.PlatformDir, envDir); err != nil {
		return nil, fmt.Errorf("buildpack %s: %w", d.Ref(), err)
	}
	cacheDir := filepath.Join(bpLayersDir, classicCacheLayer)
	if err := os.MkdirAll(cacheDir, 0o777); err != nil {
		return nil, fmt.Errorf("buildpack %s: create CACHE_DIR: %w", d.Ref(), err)
	}
	if err := writeLayerTypes(bpLayersDir, classicCacheLayer, LayerTypes{Cache: true}); err != nil {
		return nil, fmt.Errorf("buildpack %s: %w", d.Ref(), err)
	}

	env := cfg.Env
	if env == nil {
		env = launch.NewEnv(nil, launch.BuildRootDirs, launch.BuildEnvIncludeList)
	}
	env = env.Clone()
	// Heroku passes config vars only through ENV_DIR, never in the environment of compile;
	// the operator's build env is the platform's own and applies.
	if cfg.BuildConfigDir != "" {
		if err := env.AddEnvDir(filepath.Join(cfg.BuildConfigDir, "env"), launch.Default); err != nil {
			return nil, fmt.Errorf("buildpack %s: operator env: %w", d.Ref(), err)
		}
	}
	if stack := classicStack(cfg.Target); stack != "" {
		env.Set("STACK", stack)
	}
	if v := sourceVersion(envDir, cfg.AppDir); v != "" {
		env.Set("SOURCE_VERSION", v)
	}

	out := &buildOutput{w: cfg.Out, prefix: []byte(cfg.OutPrefix), atLineStart: true}
	if out.w == nil {
		out.w = io.Discard
	}
	fmt.Fprintf(out, "-----> %s app detected (%s)\n", classicFramework(d, cfg.Plan), d.Ref())

	steps, cf, err := d.classicSteps(bpDir, cfg, cacheDir, envDir)
	if err != nil {
		return nil, err
	}
	if cf {
		depsLayer := filepath.Join(bpLayersDir, classicDepsLayer)
		if err := linkDeps(cfg.AppDir, cfg.Index, depsLayer); err != nil {
			return nil, fmt.Errorf("buildpack %s: %w", d.Ref(), err)
		}
		depsDir := filepath.Join(cfg.AppDir, ClassicDepsDir)
		env.Set("DEPS_DIR", depsDir)
		if err := writeLayerTypes(bpLayersDir, classicDepsLayer, LayerTypes{Build: true, Launch: true}); err != nil {
			return nil, fmt.Errorf("buildpack %s: %w", d.Ref(), err)
		}
		for _, scope := range []string{"env.build", "env.launch"} {
			if err := writeEnvFile(filepath.Join(depsLayer, scope), "DEPS_DIR.default", depsDir); err != nil {
				return nil, fmt.Errorf("buildpack %s: %w", d.Ref(), err)
			}
		}
	}
	before := env.Clone()
	for _, s := range steps {
		cmd := exec.CommandContext(ctx, filepath.Join(bpDir, "bin", s.name), s.args...)
		cmd.Dir = cfg.AppDir
		cmd.Env = env.List()
		cmd.Stdout = out
		cmd.Stderr = out
		runErr := cmd.Run()
		out.finish()
		if runErr != nil {
			var ee *exec.ExitError
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, fmt.Errorf("run bin/%s of buildpack %s: %w", s.name, d.Ref(), ctxErr)
			}
			if !errors.As(runErr, &ee) {
				return nil, fmt.Errorf("run bin/%s of buildpack %s: %w", s.name, d.Ref(), runErr)
			}
			return nil, &BuildError{Ref: d.Ref(), Step: "bin/" + s.name, ExitCode: ee.ExitCode(), Tail: out.tailLines(), Err: runErr}
		}
	}

	if err := d.classicExport(ctx, bpDir, bpLayersDir, before); err != nil {
		return nil, err
	}
	final := cfg.classicFinal()
	var warnings []string
	if !cf || final {
		rel, err := d.classicRelease(ctx, bpDir, cfg.AppDir, env, out)
		if err != nil {
			return nil, err
		}
		warnings = rel.Warnings
		if err := writeClassicRelease(bpLayersDir, rel, len(cfg.Group) <= 1); err != nil {
			return nil, fmt.Errorf("buildpack %s: %w", d.Ref(), err)
		}
	}
	res, err := d.readBuildOutputs(bpLayersDir, cfg.Plan)
	if err != nil {
		return nil, err
	}
	res.Warnings = append(warnings, res.Warnings...)
	return res, nil
}

// classicSteps picks what runs: a Heroku buildpack's bin/compile; a Cloud Foundry buildpack's
// bin/supply when another classic buildpack follows, and bin/finalize (or bin/compile) when it
// is the last one (Cloud Foundry, How Buildpacks Work: the final buildpack).
func (d *Descriptor) classicSteps(bpDir string, cfg BuildConfig, cacheDir, envDir string) ([]classicStep, bool, error) {
	has := func(name string) bool {
		fi, err := os.Stat(filepath.Join(bpDir, "bin", name))
		return err == nil && !fi.IsDir()
	}
	if !has("supply") && !has("finalize") {
		return []classicStep{{"compile", []string{cfg.AppDir, cacheDir, envDir}}}, false, nil
	}
	depsDir := filepath.Join(cfg.AppDir, ClassicDepsDir)
	idx := strconv.Itoa(cfg.Index)
	var steps []classicStep
	if has("supply") {
		steps = append(steps, classicStep{"supply", []string{cfg.AppDir, cacheDir, depsDir, idx}})
	}
	if !cfg.classicFinal() {
		if !has("supply") {
			return nil, true, fmt.Errorf("buildpack %s has bin/finalize but no bin/supply, so it can only be the last classic buildpack; move it last", d.Ref())
		}
		return steps, true, nil
	}
	switch {
	case has("finalize"):
		profileDir := filepath.Join(cfg.AppDir, ".profile.d")
		steps = append(steps, classicStep{"finalize", []string{cfg.AppDir, cacheDir, depsDir, idx, profileDir}})
	case has("compile"):
		steps = append(steps, classicStep{"compile", []string{cfg.AppDir, cacheDir, envDir}})
	default:
		return nil, true, fmt.Errorf("buildpack %s is the last classic buildpack but has neither bin/finalize nor bin/compile; add a final buildpack after it", d.Ref())
	}
	return steps, true, nil
}

// classicFinal reports whether no classic buildpack follows this one in the group.
func (cfg BuildConfig) classicFinal() bool {
	if cfg.Index >= len(cfg.Group) {
		return true
	}
	return !slices.ContainsFunc(cfg.Group[cfg.Index+1:], func(e GroupElement) bool { return IsClassicID(e.ID) })
}

// classicFramework is the name bin/detect printed, carried in the build plan.
func classicFramework(d *Descriptor, plan BuildpackPlan) string {
	for _, e := range plan.Entries {
		if e.Name == d.Buildpack.ID {
			if s, ok := e.Metadata[classicFrameworkKey].(string); ok && s != "" {
				return s
			}
		}
	}
	return d.Buildpack.Name
}

// classicStack is STACK: Heroku names its stack (heroku-24); the equivalent here is the run
// image's distribution, e.g. debian-12.
func classicStack(t Target) string {
	if len(t.Distros) == 0 || t.Distros[0].Name == "" {
		return ""
	}
	if t.Distros[0].Version == "" {
		return t.Distros[0].Name
	}
	return t.Distros[0].Name + "-" + t.Distros[0].Version
}

// sourceVersion is SOURCE_VERSION: what the user set, else the commit checked out in the
// app dir when it is a git work tree (Heroku sets the pushed commit).
func sourceVersion(envDir, appDir string) string {
	if b, err := os.ReadFile(filepath.Join(envDir, "SOURCE_VERSION")); err == nil {
		return strings.TrimSpace(string(b))
	}
	gitDir := filepath.Join(appDir, ".git")
	head, err := os.ReadFile(filepath.Join(gitDir, "HEAD"))
	if err != nil {
		return ""
	}
	h := strings.TrimSpace(string(head))
	ref, isRef := strings.CutPrefix(h, "ref: ")
	if !isRef {
		return h
	}
	if b, err := os.ReadFile(filepath.Join(gitDir, filepath.FromSlash(ref))); err == nil {
		return strings.TrimSpace(string(b))
	}
	f, err := os.Open(filepath.Join(gitDir, "packed-refs"))
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if sha, name, ok := strings.Cut(sc.Text(), " "); ok && name == ref {
			return sha
		}
	}
	return ""
}

// writeClassicEnvDir writes ENV_DIR: one file per user env var, named for the variable and
// holding its value (Heroku: "a file for each of the application's configuration
// variables"). The values are <platform>/env's, which has the same layout.
func writeClassicEnvDir(platformDir, envDir string) error {
	if err := os.MkdirAll(envDir, 0o755); err != nil {
		return fmt.Errorf("create ENV_DIR: %w", err)
	}
	src := filepath.Join(platformDir, "env")
	ents, err := os.ReadDir(src)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read platform env %s: %w", src, err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return fmt.Errorf("read platform env: %w", err)
		}
		if err := os.WriteFile(filepath.Join(envDir, e.Name()), b, 0o644); err != nil {
			return fmt.Errorf("write ENV_DIR: %w", err)
		}
	}
	return nil
}

// linkDeps makes <app>/.deps/<idx> a link to the buildpack's deps layer.
func linkDeps(appDir string, idx int, depsLayer string) error {
	if err := os.MkdirAll(depsLayer, 0o777); err != nil {
		return fmt.Errorf("create deps layer: %w", err)
	}
	depsDir := filepath.Join(appDir, ClassicDepsDir)
	if err := os.MkdirAll(depsDir, 0o777); err != nil {
		return fmt.Errorf("create DEPS_DIR %s: %w", depsDir, err)
	}
	link := filepath.Join(depsDir, strconv.Itoa(idx))
	if err := os.RemoveAll(link); err != nil {
		return fmt.Errorf("create DEPS_DIR/%d: %w", idx, err)
	}
	if err := os.Symlink(depsLayer, link); err != nil {
		return fmt.Errorf("create DEPS_DIR/%d: %w", idx, err)
	}
	return nil
}

// classicExport turns the buildpack's export file into env for the buildpacks after it
// (Heroku, Using multiple buildpacks: "buildpacks can write an export file to their root
// directory, sourced before the next buildpack runs"). The file is sourced by bash with the
// environment compile had; every variable it adds or changes becomes an override in the
// build-only layer "export".
func (d *Descriptor) classicExport(ctx context.Context, bpDir, bpLayersDir string, before *launch.Env) error {
	exportFile := filepath.Join(bpDir, "export")
	if fi, err := os.Stat(exportFile); err != nil || fi.IsDir() {
		return nil
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", "-c", `set -e; source "$1" >/dev/null; env -0`, "export", exportFile)
	cmd.Env = before.List()
	cmd.Stdout = &stdout
	cmd.Stderr = &limitedBuffer{b: &stderr, max: 4 << 10}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("buildpack %s: source its export file: %v: %s", d.Ref(), err, strings.TrimSpace(stderr.String()))
	}
	envDir := filepath.Join(bpLayersDir, classicExportLayer, "env.build")
	if err := os.MkdirAll(envDir, 0o777); err != nil {
		return fmt.Errorf("buildpack %s: %w", d.Ref(), err)
	}
	for _, kv := range bytes.Split(stdout.Bytes(), []byte{0}) {
		k, v, ok := strings.Cut(string(kv), "=")
		if !ok || k == "" || strings.ContainsAny(k, "/.") || k == "_" || k == "SHLVL" || k == "PWD" || k == "OLDPWD" {
			continue
		}
		if old, had := before.Lookup(k); had && old == v {
			continue
		}
		if err := writeEnvFile(envDir, k+".override", v); err != nil {
			return fmt.Errorf("buildpack %s: %w", d.Ref(), err)
		}
	}
	if err := writeLayerTypes(bpLayersDir, classicExportLayer, LayerTypes{Build: true}); err != nil {
		return fmt.Errorf("buildpack %s: %w", d.Ref(), err)
	}
	return nil
}

func writeLayerTypes(bpLayersDir, name string, t LayerTypes) error {
	if err := os.MkdirAll(filepath.Join(bpLayersDir, name), 0o777); err != nil {
		return fmt.Errorf("create layer %s: %w", name, err)
	}
	return tomlfile.Write(filepath.Join(bpLayersDir, name+".toml"), LayerMetadataFile{Types: t})
}

func writeEnvFile(dir, name, value string) error {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name), []byte(value), 0o644)
}
