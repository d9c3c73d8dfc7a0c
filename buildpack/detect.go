package buildpack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/slipway/slipway/launch"
	"github.com/slipway/slipway/tomlfile"
)

// Exit codes of bin/detect (buildpack.md, Detection); anything else is an error.
const (
	DetectCodePass = 0
	DetectCodeFail = 100
)

// Bounds on the detect output kept for reports: the process may print without limit, we
// keep only the tail (buildpack.md, Detection says the output is logs).
const (
	detectTailBytes = 4 << 10
	DetectTailLines = 20
)

// DetectConfig is the platform's side of one bin/detect run (buildpack.md, Detection).
type DetectConfig struct {
	AppDir      string
	PlatformDir string
	// BuildConfigDir holds the operator env in <build-config>/env (platform.md, Operator-Defined Variables);
	// empty means none.
	BuildConfigDir string
	// Environ is the platform process environment; only the include-list and the path
	// variables reach the buildpack (docs/spec-notes.md, Build environment).
	Environ []string
	// Target is the run image's target; empty fields are unknown and not passed on.
	Target Target
	// ExecEnv is CNB_EXEC_ENV; empty means "production" (docs/spec-notes.md, API versions).
	ExecEnv string
	// TempDir is where the per-run plan directory is created; empty means os.TempDir().
	TempDir string
}

// DetectStatus is the outcome class of one bin/detect run.
type DetectStatus int

const (
	DetectPass DetectStatus = iota + 1
	DetectFail
	DetectError
)

func (s DetectStatus) String() string {
	switch s {
	case DetectPass:
		return "pass"
	case DetectFail:
		return "fail"
	case DetectError:
		return "error"
	}
	return "unknown"
}

// DetectOutcome is what one bin/detect run produced.
type DetectOutcome struct {
	Status DetectStatus
	// ExitCode is the process exit code, -1 when it did not exit normally or did not run.
	ExitCode int
	// Plan is the build plan it wrote (only on pass); an empty file is an empty plan.
	Plan DetectPlan
	// Output holds the last lines (at most DetectTailLines, from the last 4 KiB) of its
	// combined stdout and stderr.
	Output []string
	// Err says what went wrong when Status is DetectError.
	Err error
}

// Detect runs the buildpack's bin/detect (buildpack.md, Detection): working directory <app>,
// the build env of buildpack.md, Environment plus the CNB_* variables its API asks for, positional args
// <platform> <plan>, and a fresh empty plan file per run. It never returns a Go error:
// failures to run are reported as DetectError so that the detector can carry on with other
// groups and report every reason at the end.
func (d *Descriptor) Detect(ctx context.Context, cfg DetectConfig) DetectOutcome {
	if d.Classic != nil {
		return d.detectClassic(ctx, cfg)
	}
	out := DetectOutcome{Status: DetectError, ExitCode: -1}
	fail := func(err error) DetectOutcome {
		out.Status, out.Err = DetectError, err
		return out
	}
	detectPath := filepath.Join(d.Dir, "bin", "detect")
	if fi, err := os.Stat(detectPath); err != nil || fi.IsDir() {
		return fail(fmt.Errorf("buildpack %s has no executable %s", d.Ref(), detectPath))
	}
	planDir, err := os.MkdirTemp(cfg.TempDir, "detect-"+EscapedID(d.Buildpack.ID)+"-")
	if err != nil {
		return fail(fmt.Errorf("create plan dir for %s: %w", d.Ref(), err))
	}
	defer os.RemoveAll(planDir)
	// The plan file exists and is empty before detect runs; empty is a valid pass (buildpack.md, Build Plan (TOML)).
	planPath := filepath.Join(planDir, "plan.toml")
	if err := os.WriteFile(planPath, nil, 0o644); err != nil {
		return fail(fmt.Errorf("create plan file for %s: %w", d.Ref(), err))
	}
	env, err := d.detectEnv(cfg, planPath)
	if err != nil {
		return fail(fmt.Errorf("assemble detect env for %s: %w", d.Ref(), err))
	}

	tail := &detectOutputTail{}
	cmd := exec.CommandContext(ctx, detectPath, cfg.PlatformDir, planPath)
	cmd.Dir = cfg.AppDir
	cmd.Env = env
	cmd.Stdout = tail
	cmd.Stderr = tail
	// A background child holding the output pipe must not keep us waiting forever.
	cmd.WaitDelay = 5 * time.Second
	runErr := cmd.Run()
	out.Output = tail.Lines(DetectTailLines)

	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return fail(fmt.Errorf("run %s: %w", detectPath, ctx.Err()))
	case errors.As(runErr, &exitErr):
		out.ExitCode = exitErr.ExitCode()
	case runErr != nil:
		return fail(fmt.Errorf("run %s: %w", detectPath, runErr))
	default:
		out.ExitCode = DetectCodePass
	}
	switch out.ExitCode {
	case DetectCodePass:
	case DetectCodeFail:
		out.Status = DetectFail
		return out
	case -1:
		return fail(fmt.Errorf("bin/detect of %s was killed: %v", d.Ref(), runErr))
	default:
		return fail(fmt.Errorf("bin/detect of %s exited with %d (only 0 = pass and 100 = fail are allowed)", d.Ref(), out.ExitCode))
	}

	plan, err := d.readDetectPlan(planPath)
	if err != nil {
		return fail(err)
	}
	out.Status, out.Plan = DetectPass, plan
	return out
}

// detectEnv assembles the environment of bin/detect (buildpack.md, Detection; buildpack.md, Environment): the
// include-list of the platform env, then the user env of <platform>/env unless the buildpack
// sets clear-env, then the operator env (no suffix = default), then the CNB_* variables.
func (d *Descriptor) detectEnv(cfg DetectConfig, planPath string) ([]string, error) {
	feat := d.APIFeatures()
	env := launch.NewEnv(cfg.Environ, launch.BuildRootDirs, launch.BuildEnvIncludeList)
	if !d.Buildpack.ClearEnv {
		if err := env.AddPlatformEnv(cfg.PlatformDir); err != nil {
			return nil, err
		}
	}
	if cfg.BuildConfigDir != "" {
		if err := env.AddEnvDir(filepath.Join(cfg.BuildConfigDir, "env"), launch.Default); err != nil {
			return nil, err
		}
	}
	env.Set("CNB_BUILDPACK_DIR", d.Dir)
	if feat.PathEnv {
		env.Set("CNB_PLATFORM_DIR", cfg.PlatformDir)
		env.Set("CNB_BUILD_PLAN_PATH", planPath)
	}
	if feat.TargetEnv {
		setIf := func(k, v string) {
			if v != "" {
				env.Set(k, v)
			}
		}
		setIf("CNB_TARGET_OS", cfg.Target.OS)
		setIf("CNB_TARGET_ARCH", cfg.Target.Arch)
		setIf("CNB_TARGET_ARCH_VARIANT", cfg.Target.variant())
		if len(cfg.Target.Distros) > 0 {
			setIf("CNB_TARGET_DISTRO_NAME", cfg.Target.Distros[0].Name)
			setIf("CNB_TARGET_DISTRO_VERSION", cfg.Target.Distros[0].Version)
		}
	}
	if feat.ExecEnv {
		execEnv := cfg.ExecEnv
		if execEnv == "" {
			execEnv = "production"
		}
		env.Set("CNB_EXEC_ENV", execEnv)
	}
	return env.List(), nil
}

// detectPlanFile mirrors DetectPlan but keeps the legacy requires.version key, which the
// shared Require type deliberately does not have.
type detectPlanFile struct {
	Provides []Provide               `toml:"provides"`
	Requires []detectPlanRequire     `toml:"requires"`
	Or       []detectPlanAlternative `toml:"or"`
}

type detectPlanAlternative struct {
	Provides []Provide           `toml:"provides"`
	Requires []detectPlanRequire `toml:"requires"`
}

type detectPlanRequire struct {
	Name     string         `toml:"name"`
	Version  string         `toml:"version"`
	Metadata map[string]any `toml:"metadata"`
}

// readDetectPlan reads and validates the build plan bin/detect wrote (buildpack.md, Build Plan (TOML)).
func (d *Descriptor) readDetectPlan(path string) (DetectPlan, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		// The buildpack removed the file: treat as empty, like an untouched one.
		return DetectPlan{}, nil
	}
	if err != nil {
		return DetectPlan{}, fmt.Errorf("read build plan of %s: %w", d.Ref(), err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return DetectPlan{}, nil
	}
	var raw detectPlanFile
	if err := tomlfile.Read(path, &raw); err != nil {
		return DetectPlan{}, fmt.Errorf("build plan written by bin/detect of %s: %w", d.Ref(), err)
	}
	feat := d.APIFeatures()
	convert := func(provides []Provide, requires []detectPlanRequire) (PlanSections, error) {
		s := PlanSections{Provides: provides}
		for _, p := range provides {
			if p.Name == "" {
				return s, fmt.Errorf("build plan of %s: a [[provides]] entry has no name", d.Ref())
			}
		}
		for _, r := range requires {
			if r.Name == "" {
				return s, fmt.Errorf("build plan of %s: a [[requires]] entry has no name", d.Ref())
			}
			if r.Version != "" {
				// B0.11 removed requires.version; older APIs move it into metadata
				// (docs/spec-notes.md, API versions; buildpack.md, Build Plan (TOML)).
				if feat.NoRequiresVersion {
					return s, fmt.Errorf("build plan of %s: requires %q has a top-level version, which Buildpack API %s forbids; put it in [requires.metadata] version",
						d.Ref(), r.Name, feat.Version)
				}
				if r.Metadata == nil {
					r.Metadata = map[string]any{}
				}
				if mv, ok := r.Metadata["version"]; ok && mv != r.Version {
					return s, fmt.Errorf("build plan of %s: requires %q has version %q and metadata.version %v; keep only metadata.version",
						d.Ref(), r.Name, r.Version, mv)
				}
				r.Metadata["version"] = r.Version
			}
			s.Requires = append(s.Requires, Require{Name: r.Name, Metadata: r.Metadata})
		}
		return s, nil
	}
	var plan DetectPlan
	if plan.PlanSections, err = convert(raw.Provides, raw.Requires); err != nil {
		return DetectPlan{}, err
	}
	for _, alt := range raw.Or {
		s, err := convert(alt.Provides, alt.Requires)
		if err != nil {
			return DetectPlan{}, err
		}
		plan.Or = append(plan.Or, s)
	}
	return plan, nil
}

// detectOutputTail keeps the last detectTailBytes written to it, so a chatty or runaway
// bin/detect cannot make the detector buffer without bound.
type detectOutputTail struct {
	mu        sync.Mutex
	buf       []byte
	truncated bool
}

func (t *detectOutputTail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	if len(p) >= detectTailBytes {
		t.buf = append(t.buf[:0], p[len(p)-detectTailBytes:]...)
		t.truncated = true
		return n, nil
	}
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*detectTailBytes {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-detectTailBytes:]...)
		t.truncated = true
	}
	return n, nil
}

// Lines returns at most n trailing lines; a line cut by truncation is dropped.
func (t *detectOutputTail) Lines(n int) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buf
	if len(b) > detectTailBytes {
		b = b[len(b)-detectTailBytes:]
		t.truncated = true
	}
	s := strings.TrimRight(string(b), "\n")
	if s == "" {
		return nil
	}
	lines := strings.Split(s, "\n")
	if t.truncated && len(lines) > 1 {
		lines = lines[1:]
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}
