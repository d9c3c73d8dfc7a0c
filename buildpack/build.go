package buildpack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/slipway/slipway/launch"
	"github.com/slipway/slipway/tomlfile"
)

// BuildConfig is what one buildpack's bin/build runs with (buildpack.md, Build).
type BuildConfig struct {
	AppDir, LayersDir, PlatformDir, BuildConfigDir string
	// Plan is this buildpack's share of plan.toml (buildpack.md, Buildpack Plan (TOML)).
	Plan BuildpackPlan
	// Env is the build env so far: the include-listed platform environment plus what earlier
	// buildpacks' build layers contributed (docs/spec-notes.md, Build environment; buildpack.md, Provided by the Buildpacks). Build does not modify it.
	Env     *launch.Env
	Target  Target
	ExecEnv string
	// Out receives bin/build's stdout and stderr as they are written, each line prefixed
	// with OutPrefix. Nil discards.
	Out       io.Writer
	OutPrefix string
	// Group is the whole group being built and Index this buildpack's place in it; classic
	// Cloud Foundry buildpacks need both (DEPS_IDX, and whether they are the final one).
	Group []GroupElement
	Index int
}

// BuildResult is what one buildpack produced.
type BuildResult struct {
	Layers []Layer
	// MetRequires names the plan entries this buildpack satisfied (not [[unmet]]);
	// later providers do not see them (buildpack.md, Unmet Buildpack Plan Entries).
	MetRequires []string
	Processes   []launch.Process
	Labels      []launch.Label
	Slices      []launch.Slice
	SBOMFiles   []SBOMFile
	// Warnings are tolerated problems the caller should log.
	Warnings []string
}

// BuildError is a bin/build that exited non-zero; the builder exits 51 for it
// (buildpack.md, Build; platform.md, builder).
type BuildError struct {
	Ref      string // id@version
	Step     string // the executable that failed; empty means bin/build
	ExitCode int    // -1 when killed by a signal
	Tail     []string
	Err      error
}

func (e *BuildError) Error() string {
	var b strings.Builder
	step := e.Step
	if step == "" {
		step = "bin/build"
	}
	fmt.Fprintf(&b, "buildpack %s: %s failed with exit code %d", e.Ref, step, e.ExitCode)
	if len(e.Tail) > 0 {
		b.WriteString("; last output:\n")
		for _, l := range e.Tail {
			b.WriteString("  " + l + "\n")
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func (e *BuildError) Unwrap() error { return e.Err }

// buildOutputTailLines is how much of a failing bin/build's output goes into the error.
const buildOutputTailLines = 20

// Build runs the buildpack's bin/build and reads back what it wrote (buildpack.md, Build,
// buildpack.md, Layer Content Metadata (TOML); buildpack.md, Ignored Layers; buildpack.md, launch.toml (TOML); buildpack.md, Software Bill of Materials): layer metadata (all-false layers renamed .ignore), build.toml,
// launch.toml and SBOM files. SBOM files are found and validated, not copied.
func (d *Descriptor) Build(ctx context.Context, cfg BuildConfig) (*BuildResult, error) {
	if d.Classic != nil {
		return d.buildClassic(ctx, cfg)
	}
	caps := d.APIFeatures()
	bpLayersDir := filepath.Join(cfg.LayersDir, EscapedID(d.Buildpack.ID))
	if err := os.MkdirAll(bpLayersDir, 0o777); err != nil {
		return nil, fmt.Errorf("create layers dir for buildpack %s: %w", d.Ref(), err)
	}
	planDir, err := os.MkdirTemp("", EscapedID(d.Buildpack.ID)+"-plan-")
	if err != nil {
		return nil, fmt.Errorf("create plan dir for buildpack %s: %w", d.Ref(), err)
	}
	defer os.RemoveAll(planDir)
	planPath := filepath.Join(planDir, "plan.toml")
	plan := cfg.Plan
	if plan.Entries == nil {
		plan.Entries = []Require{}
	}
	if err := tomlfile.Write(planPath, plan); err != nil {
		return nil, fmt.Errorf("write buildpack plan for %s: %w", d.Ref(), err)
	}

	env := cfg.Env
	if env == nil {
		env = launch.NewEnv(nil, launch.BuildRootDirs, launch.BuildEnvIncludeList)
	}
	env = env.Clone()
	// The user env is applied on top of the buildpack env for each buildpack unless the
	// buildpack asks for a clean env; operator env always applies, last (platform.md, User-Provided Variables; platform.md, Operator-Defined Variables).
	if !d.Buildpack.ClearEnv {
		if err := env.AddPlatformEnv(cfg.PlatformDir); err != nil {
			return nil, fmt.Errorf("buildpack %s: %w", d.Ref(), err)
		}
	}
	if cfg.BuildConfigDir != "" {
		if err := env.AddEnvDir(filepath.Join(cfg.BuildConfigDir, "env"), launch.Default); err != nil {
			return nil, fmt.Errorf("buildpack %s: operator env: %w", d.Ref(), err)
		}
	}
	env.Set("CNB_BUILDPACK_DIR", d.Dir)
	if caps.PathEnv {
		env.Set("CNB_LAYERS_DIR", bpLayersDir)
		env.Set("CNB_BP_PLAN_PATH", planPath)
		env.Set("CNB_PLATFORM_DIR", cfg.PlatformDir)
	}
	if caps.TargetEnv {
		for k, v := range buildTargetEnv(cfg.Target) {
			env.Set(k, v)
		}
	}
	if caps.ExecEnv {
		execEnv := cfg.ExecEnv
		if execEnv == "" {
			execEnv = "production"
		}
		env.Set("CNB_EXEC_ENV", execEnv)
	}

	out := &buildOutput{w: cfg.Out, prefix: []byte(cfg.OutPrefix), atLineStart: true}
	if out.w == nil {
		out.w = io.Discard
	}
	// Reference lifecycle: the positional args <layers-bp> <platform> <plan> are still passed (buildpack.md, Build).
	cmd := exec.CommandContext(ctx, filepath.Join(d.Dir, "bin", "build"), bpLayersDir, cfg.PlatformDir, planPath)
	cmd.Dir = cfg.AppDir
	cmd.Env = env.List()
	cmd.Stdout = out
	cmd.Stderr = out
	runErr := cmd.Run()
	out.finish()
	if runErr != nil {
		var ee *exec.ExitError
		if !errors.As(runErr, &ee) {
			return nil, fmt.Errorf("run bin/build of buildpack %s: %w", d.Ref(), runErr)
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("run bin/build of buildpack %s: %w", d.Ref(), ctxErr)
		}
		return nil, &BuildError{Ref: d.Ref(), ExitCode: ee.ExitCode(), Tail: out.tailLines(), Err: runErr}
	}

	return d.readBuildOutputs(bpLayersDir, cfg.Plan)
}

// readBuildOutputs reads everything bin/build left in bpLayersDir (buildpack.md, Layer Content Metadata (TOML); buildpack.md, Software Bill of Materials).
func (d *Descriptor) readBuildOutputs(bpLayersDir string, plan BuildpackPlan) (*BuildResult, error) {
	layers, err := ReadLayers(bpLayersDir)
	if err != nil {
		return nil, fmt.Errorf("buildpack %s: %w", d.Ref(), err)
	}
	if err := IgnoreUnusedLayers(layers); err != nil {
		return nil, fmt.Errorf("buildpack %s: %w", d.Ref(), err)
	}
	bt, err := ReadBuildTOML(filepath.Join(bpLayersDir, "build.toml"), plan)
	if err != nil {
		return nil, fmt.Errorf("buildpack %s: %w", d.Ref(), err)
	}
	res := &BuildResult{Layers: layers}
	unmet := map[string]bool{}
	for _, u := range bt.Unmet {
		unmet[u.Name] = true
	}
	seen := map[string]bool{}
	for _, e := range plan.Entries {
		if !unmet[e.Name] && !seen[e.Name] {
			seen[e.Name] = true
			res.MetRequires = append(res.MetRequires, e.Name)
		}
	}
	res.SBOMFiles, err = FindSBOMFiles(d, bpLayersDir, layers)
	if err != nil {
		return nil, err
	}
	procs, lt, warnings, err := ReadLaunchTOML(filepath.Join(bpLayersDir, "launch.toml"), d.APIFeatures(), d.Buildpack.ID)
	if err != nil {
		return nil, fmt.Errorf("buildpack %s: %w", d.Ref(), err)
	}
	res.Processes, res.Labels, res.Slices, res.Warnings = procs, lt.Labels, lt.Slices, warnings
	return res, nil
}

// buildTargetEnv is CNB_TARGET_* for B ≥ 0.10, only the values that are known
// (buildpack.md, Detection; buildpack.md, Build).
func buildTargetEnv(t Target) map[string]string {
	m := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	set("CNB_TARGET_OS", t.OS)
	set("CNB_TARGET_ARCH", t.Arch)
	variant := t.Variant
	if variant == "" {
		variant = t.ArchVariant
	}
	set("CNB_TARGET_ARCH_VARIANT", variant)
	if len(t.Distros) > 0 {
		set("CNB_TARGET_DISTRO_NAME", t.Distros[0].Name)
		set("CNB_TARGET_DISTRO_VERSION", t.Distros[0].Version)
	}
	return m
}

// buildOutput streams bin/build output to w, starting every line with prefix, and keeps
// the last lines for the error message of a failing buildpack.
type buildOutput struct {
	mu          sync.Mutex
	w           io.Writer
	prefix      []byte
	atLineStart bool
	werr        error // first write error; output is best effort and never fails the build

	partial []byte // the current, unfinished line (bounded)
	tail    []string
}

const buildOutputMaxLine = 4096

func (o *buildOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		if o.atLineStart && len(o.prefix) > 0 {
			o.write(o.prefix)
		}
		o.atLineStart = false
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			o.write(p)
			o.keep(p)
			break
		}
		o.write(p[:i+1])
		o.keep(p[:i])
		o.endLine()
		o.atLineStart = true
		p = p[i+1:]
	}
	return n, nil
}

func (o *buildOutput) write(b []byte) {
	if o.werr == nil {
		_, o.werr = o.w.Write(b)
	}
}

func (o *buildOutput) keep(b []byte) {
	if room := buildOutputMaxLine - len(o.partial); room > 0 {
		if len(b) > room {
			b = b[:room]
		}
		o.partial = append(o.partial, b...)
	}
}

func (o *buildOutput) endLine() {
	o.tail = append(o.tail, string(o.partial))
	if len(o.tail) > buildOutputTailLines {
		o.tail = o.tail[len(o.tail)-buildOutputTailLines:]
	}
	o.partial = o.partial[:0]
}

// finish terminates an unfinished last line.
func (o *buildOutput) finish() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.atLineStart {
		o.write([]byte("\n"))
		o.endLine()
		o.atLineStart = true
	}
}

func (o *buildOutput) tailLines() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.tail...)
}
