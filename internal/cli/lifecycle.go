package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/slipway/slipway/lifecycle"
	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/publish"
	"github.com/slipway/slipway/registry"
	"github.com/slipway/slipway/version"
)

// phases are the lifecycle phases this binary answers to, by argv0 or `slipway lifecycle
// <phase>` (platform.md, Platform API Compatibility): each parses its inputs once and calls
// the lifecycle function of the same name.
var phases = map[string]func(context.Context, *platform.Inputs, lifecycle.IO) error{
	"analyzer": func(ctx context.Context, in *platform.Inputs, o lifecycle.IO) error {
		_, err := lifecycle.Analyzer(ctx, in, o)
		return err
	},
	"detector": func(ctx context.Context, in *platform.Inputs, o lifecycle.IO) error {
		_, err := lifecycle.Detector(ctx, in, o)
		return err
	},
	"restorer": func(ctx context.Context, in *platform.Inputs, o lifecycle.IO) error {
		_, err := lifecycle.Restorer(ctx, in, o)
		return err
	},
	"builder": lifecycle.Builder,
	"exporter": func(ctx context.Context, in *platform.Inputs, o lifecycle.IO) error {
		_, err := lifecycle.Exporter(ctx, in, o)
		return err
	},
	"creator": func(ctx context.Context, in *platform.Inputs, o lifecycle.IO) error {
		_, err := lifecycle.Creator(ctx, in, o)
		return err
	},
	"rebaser": func(ctx context.Context, in *platform.Inputs, o lifecycle.IO) error {
		_, err := lifecycle.Rebaser(ctx, in, o)
		return err
	},
}

// phaseNames lists the phases in name order (the /cnb/lifecycle links of a builder).
func phaseNames() []string {
	names := make([]string, 0, len(phases))
	for p := range phases {
		names = append(names, p)
	}
	sort.Strings(names)
	return names
}

func isPhase(name string) bool { _, ok := phases[name]; return ok }

// phaseExit carries a phase's exit code through cobra without printing the error twice.
type phaseExit struct{ code int }

func (e *phaseExit) Error() string { return fmt.Sprintf("exit code %d", e.code) }

func newLifecycleCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "lifecycle PHASE [-flags]",
		Short: "Run one CNB lifecycle phase (analyzer, detector, restorer, builder, exporter, creator, rebaser) with Platform API flags",
		Long: `Runs one phase of the Cloud Native Buildpacks lifecycle, with the flags and CNB_* environment
variables of the Platform API (CNB_PLATFORM_API, 0.7 to 0.15; docs/platform-api.md lists every
flag of every phase). This is what slipway runs inside its sandbox; other platforms (pack,
kpack, Tekton) run the same binary as /cnb/lifecycle/<phase>.`,
		Example:            "  slipway lifecycle detector -app /workspace -layers /layers -order /cnb/order.toml",
		DisableFlagParsing: true,
		Args:               cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] == "-h" || args[0] == "--help" {
				return cmd.Help()
			}
			if !isPhase(args[0]) {
				return fmt.Errorf("unknown phase %q: want one of %s", args[0], strings.Join(phaseNames(), ", "))
			}
			if code := runPhase(cmd.Context(), args[0], args[1:], g.stdout, g.stderr); code != 0 {
				return &phaseExit{code}
			}
			return nil
		},
	}
}

// runPhase parses the phase's inputs (platform.ParseInputs), opens where its images live,
// and runs it, returning its exit code (platform.md, Usage (exit codes)).
func runPhase(ctx context.Context, phase string, args []string, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintf(stderr, "ERROR: %s: %v\n", phase, err)
		return platform.ExitCode(err)
	}
	env := os.Environ()
	in, err := platform.ParseInputs(platform.Phase(phase), args, env, stderr)
	switch {
	case errors.Is(err, platform.ErrHelp):
		return 0
	case errors.Is(err, platform.ErrVersion):
		fmt.Fprintln(stdout, version.Version)
		return 0
	case err != nil:
		return fail(err)
	}
	// platform.md, Build Image (reference lifecycle): detector and builder refuse to run as root (analyzer, restorer and
	// exporter may: they never run buildpack code, and hand what they write to the CNB user;
	// the creator checks for itself).
	if os.Getuid() == 0 && (phase == "detector" || phase == "builder") {
		return fail(platform.NewError(platform.CodeFailed, errors.New("refusing to run as root; run as the build image's CNB user")))
	}
	kc, err := registry.Keychain(env)
	if err != nil {
		return fail(platform.NewError(platform.CodeInvalidArgs, err))
	}
	reg := registry.Options{Keychain: kc, Insecure: in.InsecureRegistries}
	o := lifecycle.IO{Registry: reg, Environ: env, Stdout: stdout, Stderr: stderr}
	if phase == "detector" || phase == "builder" || phase == "creator" {
		o.ProcessTime = &lifecycle.ProcessTime{}
		defer reportProcessTime(o.ProcessTime, stderr)
	}
	if phase != "detector" && phase != "builder" {
		images, closeImages, err := publish.For(ctx, in, env, reg)
		if err != nil {
			return fail(platform.NewError(platform.CodeFailed, err))
		}
		defer closeImages()
		if d, ok := images.(*publish.Daemon); ok {
			d.Progress = func(format string, args ...any) { fmt.Fprintf(stdout, format+"\n", args...) }
		}
		o.Images = images
	}
	if err := phases[phase](ctx, in, o); err != nil {
		return fail(err)
	}
	return 0
}

// reportProcessTime prints the time spent in buildpack processes for `slipway build`, which
// subtracts it from the phase's time to report its own overhead (lifecycle.ProcessTimeEnv).
func reportProcessTime(pt *lifecycle.ProcessTime, stderr io.Writer) {
	if os.Getenv(lifecycle.ProcessTimeEnv) == "1" {
		fmt.Fprintf(stderr, "%s%d\n", lifecycle.ProcessTimePrefix, pt.Total().Nanoseconds())
	}
}
