package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// DetectContext is what bin/detect receives (buildpack.md, Detection).
type DetectContext struct {
	AppDir       string // the working directory, read-only for the buildpack
	BuildpackDir string // CNB_BUILDPACK_DIR
	PlatformDir  string // CNB_PLATFORM_DIR
	PlanPath     string // CNB_BUILD_PLAN_PATH
	Target       Target
	ExecEnv      string  // CNB_EXEC_ENV (B0.12)
	Env          Environ // the process environment (include-list + user env, buildpack.md, Environment)
	Log          *Logger // stdout: the lifecycle shows it on failure (buildpack.md, Detection)
}

// BuildContext is what bin/build receives (buildpack.md, Build).
type BuildContext struct {
	AppDir       string
	BuildpackDir string
	PlatformDir  string
	Layers       Layers // CNB_LAYERS_DIR, the buildpack's own <layers>/<escaped-id>
	Plan         BuildpackPlan
	Target       Target
	ExecEnv      string
	Env          Environ
	Log          *Logger
}

// Target is the run image's target as given in CNB_TARGET_* (buildpack.md, Detection, B ≥ 0.10).
type Target struct {
	OS, Arch, ArchVariant, DistroName, DistroVersion string
}

// DetectResult is the outcome of a detect function: Pass with a plan, or Fail with a reason
// that is printed so the no-group-passed report shows why (platform.md, detector).
type DetectResult struct {
	Pass   bool
	Plan   BuildPlan
	Reason string
}

// Pass is a passing detect result.
func Pass(plan BuildPlan) DetectResult { return DetectResult{Pass: true, Plan: plan} }

// Fail is a failing (not erroring) detect result with the reason shown to the user.
func Fail(format string, args ...any) DetectResult {
	return DetectResult{Reason: fmt.Sprintf(format, args...)}
}

// DetectFunc decides whether a buildpack applies; an error makes bin/detect exit 1 (error,
// not fail: buildpack.md, Detection).
type DetectFunc func(ctx context.Context, dc DetectContext) (DetectResult, error)

// BuildFunc contributes layers and returns launch.toml and build.toml contents.
type BuildFunc func(ctx context.Context, bc BuildContext) (BuildResult, error)

// BuildResult is what a build function produces besides its layers.
type BuildResult struct {
	Launch Launch
	Build  Build
}

// Exit codes of bin/detect (buildpack.md, Detection).
const (
	ExitPass      = 0
	ExitFail      = 100
	ExitError     = 1
	ExitBuildFail = 1
)

// Main runs detect or build according to the basename of argv[0] (bin/detect and bin/build
// are links to one binary) and returns the process exit code. environ is os.Environ();
// out receives logs.
func Main(ctx context.Context, args []string, environ []string, out io.Writer, detect DetectFunc, build BuildFunc) int {
	env := NewEnviron(environ)
	log := NewLogger(out)
	if len(args) == 0 {
		fmt.Fprintln(out, "no argv[0]; run this binary as bin/detect or bin/build")
		return ExitError
	}
	wd, err := os.Getwd()
	if err != nil {
		log.Errorf("get working directory: %v", err)
		return ExitError
	}
	bpDir := env.Get("CNB_BUILDPACK_DIR")
	if bpDir == "" {
		exe, _ := os.Executable()
		bpDir = filepath.Dir(filepath.Dir(exe))
	}
	target := Target{
		OS: env.Get("CNB_TARGET_OS"), Arch: env.Get("CNB_TARGET_ARCH"), ArchVariant: env.Get("CNB_TARGET_ARCH_VARIANT"),
		DistroName: env.Get("CNB_TARGET_DISTRO_NAME"), DistroVersion: env.Get("CNB_TARGET_DISTRO_VERSION"),
	}
	execEnv := env.Get("CNB_EXEC_ENV")
	if execEnv == "" {
		execEnv = "production"
	}
	// Positional args are the legacy form (buildpack.md, Detection; buildpack.md, Build); the env vars win.
	pos := func(name string, i int) string {
		if v := env.Get(name); v != "" {
			return v
		}
		if len(args) > i {
			return args[i]
		}
		return ""
	}
	switch phase := strings.TrimSuffix(filepath.Base(args[0]), ".exe"); phase {
	case "detect":
		dc := DetectContext{AppDir: wd, BuildpackDir: bpDir, PlatformDir: pos("CNB_PLATFORM_DIR", 1),
			PlanPath: pos("CNB_BUILD_PLAN_PATH", 2), Target: target, ExecEnv: execEnv, Env: env, Log: log}
		return runDetect(ctx, dc, detect)
	case "build":
		plan, err := ReadBuildpackPlan(pos("CNB_BP_PLAN_PATH", 3))
		if err != nil {
			log.Errorf("%v", err)
			return ExitError
		}
		bc := BuildContext{AppDir: wd, BuildpackDir: bpDir, PlatformDir: pos("CNB_PLATFORM_DIR", 2),
			Layers: Layers{Path: pos("CNB_LAYERS_DIR", 1)}, Plan: plan, Target: target, ExecEnv: execEnv, Env: env, Log: log}
		return runBuild(ctx, bc, build)
	default:
		log.Errorf("unknown phase %q: run this binary as bin/detect or bin/build", phase)
		return ExitError
	}
}

func runDetect(ctx context.Context, dc DetectContext, detect DetectFunc) int {
	res, err := detect(ctx, dc)
	if err != nil {
		dc.Log.Errorf("%v", err)
		return ExitError
	}
	if !res.Pass {
		if res.Reason != "" {
			// The lifecycle keeps the last lines of detect output for its report (platform.md, detector).
			fmt.Fprintln(dc.Log.w, res.Reason)
		}
		return ExitFail
	}
	if dc.PlanPath != "" {
		if err := WriteTOML(dc.PlanPath, res.Plan); err != nil {
			dc.Log.Errorf("%v", err)
			return ExitError
		}
	}
	return ExitPass
}

func runBuild(ctx context.Context, bc BuildContext, build BuildFunc) int {
	if bc.Layers.Path == "" {
		bc.Log.Errorf("CNB_LAYERS_DIR is not set; bin/build must be run by a CNB lifecycle (Buildpack API 0.12)")
		return ExitBuildFail
	}
	res, err := build(ctx, bc)
	if err != nil {
		bc.Log.Errorf("%v", err)
		var ee interface{ ExitCode() int }
		if errors.As(err, &ee) && ee.ExitCode() > 0 {
			return ee.ExitCode()
		}
		return ExitBuildFail
	}
	if !res.Launch.IsEmpty() {
		if err := WriteTOML(filepath.Join(bc.Layers.Path, "launch.toml"), res.Launch); err != nil {
			bc.Log.Errorf("%v", err)
			return ExitBuildFail
		}
	}
	if len(res.Build.Unmet) > 0 {
		if err := WriteTOML(filepath.Join(bc.Layers.Path, "build.toml"), res.Build); err != nil {
			bc.Log.Errorf("%v", err)
			return ExitBuildFail
		}
	}
	return 0
}
