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
	"time"

	"github.com/slipway/slipway/launch"
)

// classicFrameworkKey is the plan metadata key carrying the name bin/detect printed, so that
// the build (a separate phase) can show it.
const classicFrameworkKey = "framework"

// detectClassic runs a classic bin/detect: `bin/detect BUILD_DIR`, exit 0 applies and the
// first line of stdout is the framework name shown to the user; any other exit code means
// "not applicable" (Heroku Dev Center, Buildpack API: bin/detect; Cloud Foundry, How
// Buildpacks Work: bin/detect). A buildpack without bin/detect (common for Cloud Foundry
// supply buildpacks, which CF never detects when named explicitly) always applies.
//
// On pass the buildpack provides and requires classic/<name>, with the framework name as
// metadata, so the plan resolves and bin/build-side code learns the name.
func (d *Descriptor) detectClassic(ctx context.Context, cfg DetectConfig) DetectOutcome {
	out := DetectOutcome{Status: DetectError, ExitCode: -1}
	name := d.Buildpack.Name
	detectPath := filepath.Join(d.Classic.Tree, "bin", "detect")
	if fi, err := os.Stat(detectPath); err == nil && !fi.IsDir() {
		env := launch.NewEnv(cfg.Environ, launch.BuildRootDirs, launch.BuildEnvIncludeList)
		if cfg.BuildConfigDir != "" {
			if err := env.AddEnvDir(filepath.Join(cfg.BuildConfigDir, "env"), launch.Default); err != nil {
				out.Err = fmt.Errorf("assemble detect env for %s: %w", d.Ref(), err)
				return out
			}
		}
		var stdout bytes.Buffer
		tail := &detectOutputTail{}
		cmd := exec.CommandContext(ctx, detectPath, cfg.AppDir)
		cmd.Dir = cfg.AppDir
		cmd.Env = env.List()
		cmd.Stdout = io.MultiWriter(tail, &limitedBuffer{b: &stdout, max: 4 << 10})
		cmd.Stderr = tail
		cmd.WaitDelay = 5 * time.Second
		runErr := cmd.Run()
		out.Output = tail.Lines(DetectTailLines)
		var exitErr *exec.ExitError
		switch {
		case ctx.Err() != nil:
			out.Err = fmt.Errorf("run %s: %w", detectPath, ctx.Err())
			return out
		case errors.As(runErr, &exitErr):
			out.ExitCode = exitErr.ExitCode()
			if out.ExitCode == -1 {
				out.Err = fmt.Errorf("bin/detect of %s was killed: %v", d.Ref(), runErr)
				return out
			}
			// Heroku: any non-zero exit means the buildpack does not apply.
			out.Status = DetectFail
			return out
		case runErr != nil:
			out.Err = fmt.Errorf("run %s: %w", detectPath, runErr)
			return out
		}
		out.ExitCode = 0
		if first, _, _ := strings.Cut(stdout.String(), "\n"); strings.TrimSpace(first) != "" {
			name = strings.TrimSpace(first)
		}
	} else {
		out.ExitCode = 0
		out.Output = []string{"(no bin/detect: applies)"}
	}
	req := Require{Name: d.Buildpack.ID, Metadata: map[string]any{classicFrameworkKey: name}}
	out.Status = DetectPass
	out.Plan = DetectPlan{PlanSections: PlanSections{
		Provides: []Provide{{Name: d.Buildpack.ID}},
		Requires: []Require{req},
	}}
	return out
}

// limitedBuffer keeps the first max bytes written to it and drops the rest.
type limitedBuffer struct {
	b   *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.b.Len(); room > 0 {
		l.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
