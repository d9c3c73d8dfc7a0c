package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/slipway/slipway/api"
	"github.com/slipway/slipway/buildpack"
	"github.com/slipway/slipway/lifecycle"
	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/tomlfile"
)

// phases are the lifecycle phases this binary answers to, by argv0 or `slipway lifecycle
// <phase>` (platform.md, Platform API Compatibility).
var phases = map[string]func(context.Context, *phaseInputs) error{
	"analyzer": runAnalyzer,
	"detector": runDetector,
	"restorer": runRestorer,
	"builder":  runBuilder,
	"exporter": runExporterWithCache,
	"creator":  runCreator,
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
		Short: "Run one CNB lifecycle phase (analyzer, detector, restorer, builder, exporter, creator) with Platform API flags",
		Long: `Runs one phase of the Cloud Native Buildpacks lifecycle, with the flags and CNB_* environment
variables of the Platform API. This is what slipway runs inside its sandbox; other platforms can
run the same binary as /cnb/lifecycle/<phase>.`,
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

// phaseInputs are the Platform API inputs shared by the phases (platform.md, Usage (default locations); platform.md, detector; platform.md, builder).
type phaseInputs struct {
	app, layers, platformDir, buildpacks, buildConfig string
	order, group, plan, analyzed, logLevel, execEnv   string
	system                                            string
	platformAPI                                       api.Platform
	stdout, stderr                                    io.Writer
	export                                            exportFlags
	images                                            []string // positional <image> args (analyzer, exporter, creator)
	more                                              platformFlags
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func runPhase(ctx context.Context, phase string, args []string, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintf(stderr, "ERROR: %s: %v\n", phase, err)
		return platform.ExitCode(err)
	}
	// platform.md, Platform API Compatibility: CNB_PLATFORM_API is read before anything else.
	pAPI, err := api.ForPlatform(os.Getenv("CNB_PLATFORM_API"))
	if err != nil {
		return fail(platform.NewError(platform.CodeIncompatiblePlatform, err))
	}
	in := &phaseInputs{platformAPI: pAPI, stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet(phase, flag.ContinueOnError)
	fs.SetOutput(stderr)
	// Flags take precedence over CNB_* variables, which take precedence over defaults.
	fs.StringVar(&in.app, "app", envOr("CNB_APP_DIR", platform.AppDir), "application directory")
	fs.StringVar(&in.layers, "layers", envOr("CNB_LAYERS_DIR", platform.LayersDir), "layers directory")
	fs.StringVar(&in.platformDir, "platform", envOr("CNB_PLATFORM_DIR", platform.PlatformDir), "platform directory")
	fs.StringVar(&in.buildpacks, "buildpacks", envOr("CNB_BUILDPACKS_DIR", platform.BuildpacksDir), "buildpacks directory")
	fs.StringVar(&in.buildConfig, "build-config", envOr("CNB_BUILD_CONFIG_DIR", platform.BuildConfigDir), "operator build config directory")
	fs.StringVar(&in.order, "order", os.Getenv("CNB_ORDER_PATH"), "order.toml (default <layers>/order.toml if present, else /cnb/order.toml)")
	fs.StringVar(&in.group, "group", os.Getenv("CNB_GROUP_PATH"), "group.toml (default <layers>/group.toml)")
	fs.StringVar(&in.plan, "plan", os.Getenv("CNB_PLAN_PATH"), "plan.toml (default <layers>/plan.toml)")
	fs.StringVar(&in.analyzed, "analyzed", os.Getenv("CNB_ANALYZED_PATH"), "analyzed.toml (default <layers>/analyzed.toml)")
	fs.StringVar(&in.logLevel, "log-level", envOr("CNB_LOG_LEVEL", "info"), "debug, info, warn or error")
	fs.StringVar(&in.execEnv, "exec-env", envOr("CNB_EXEC_ENV", "production"), "execution environment passed to buildpacks as CNB_EXEC_ENV (Platform API 0.15+, platform.md, detector)")
	if phase == "exporter" {
		in.export.register(fs)
	}
	if phase == "detector" || phase == "creator" {
		fs.StringVar(&in.system, "system", envOr("CNB_SYSTEM_PATH", filepath.Join(platform.CNBDir, "system.toml")), "system.toml: buildpacks added around every group (Platform API 0.15)")
	}
	registerPlatformFlags(phase, fs, in)
	if err := fs.Parse(args); err != nil {
		return platform.CodeInvalidArgs
	}
	in.images = fs.Args()
	takesImage := phase == "exporter" || phase == "analyzer" || phase == "creator"
	if takesImage && len(in.images) == 0 {
		return fail(platform.NewError(platform.CodeInvalidArgs, errors.New("no image: pass one or more image names to write")))
	}
	if !takesImage && fs.NArg() > 0 {
		return fail(platform.NewError(platform.CodeInvalidArgs, fmt.Errorf("unexpected arguments %q", fs.Args())))
	}
	if strings.Contains(in.execEnv, "/") {
		return fail(platform.NewError(platform.CodeInvalidArgs, fmt.Errorf("CNB_EXEC_ENV %q must not contain '/'", in.execEnv)))
	}
	def := func(p *string, name string) {
		if *p == "" {
			*p = filepath.Join(in.layers, name)
		}
	}
	def(&in.group, "group.toml")
	def(&in.plan, "plan.toml")
	def(&in.analyzed, "analyzed.toml")
	if in.order == "" {
		in.order = filepath.Join(in.layers, "order.toml")
		if _, err := os.Stat(in.order); err != nil {
			in.order = filepath.Join(platform.CNBDir, "order.toml")
		}
	}
	// platform.md, Build Image (reference lifecycle): detector and builder refuse to run as root (analyzer, restorer and
	// exporter may: they never run buildpack code, and hand what they write to the CNB user;
	// the creator checks for itself).
	if os.Getuid() == 0 && (phase == "detector" || phase == "builder") {
		return fail(platform.NewError(platform.CodeFailed, errors.New("refusing to run as root; run as the build image's CNB user")))
	}
	if err := phases[phase](ctx, in); err != nil {
		return fail(err)
	}
	return 0
}

func (in *phaseInputs) target() (buildpack.Target, error) {
	var a platform.Analyzed
	if _, err := os.Stat(in.analyzed); errors.Is(err, os.ErrNotExist) {
		return buildpack.Target{}, nil
	}
	if err := tomlfile.Read(in.analyzed, &a); err != nil {
		return buildpack.Target{}, err
	}
	if a.RunImage == nil || a.RunImage.Target == nil {
		return buildpack.Target{}, nil
	}
	return a.RunImage.Target.Target(), nil
}

func (in *phaseInputs) logWriter() io.Writer {
	if in.logLevel == "debug" {
		return in.stdout
	}
	return io.Discard
}

func runDetector(ctx context.Context, in *phaseInputs) error {
	var of platform.OrderFile
	if err := tomlfile.Read(in.order, &of); err != nil {
		return platform.NewError(platform.CodeDetectError, err)
	}
	target, err := in.target()
	if err != nil {
		return platform.NewError(platform.CodeDetectError, err)
	}
	// platform.md, system.toml (TOML): Platform API 0.15 adds system.toml's buildpacks around each group.
	if _, err := os.Stat(in.system); err == nil && in.platformAPI.ExecEnv {
		var sys platform.SystemFile
		if err := tomlfile.Read(in.system, &sys); err != nil {
			return platform.NewError(platform.CodeDetectError, err)
		}
		of.Order = sys.System.WithSystem(of.Order)
	}
	pt := &lifecycle.ProcessTime{}
	defer in.reportProcessTime(pt)
	res, err := lifecycle.Detect(ctx, lifecycle.DetectInputs{
		ProcessTime: pt,
		AppDir:      in.app, PlatformDir: in.platformDir, BuildpacksDir: in.buildpacks, BuildConfigDir: in.buildConfig,
		Order: of.Order, Target: target, ExecEnv: in.execEnv, Platform: in.platformAPI,
		Environ: os.Environ(), Log: in.logWriter(),
	})
	if err != nil {
		return err
	}
	for _, e := range res.Group.Group {
		fmt.Fprintf(in.stdout, "%s %s\n", e.ID, e.Version)
	}
	return lifecycle.WriteDetectResult(in.group, in.plan, res)
}

func runBuilder(ctx context.Context, in *phaseInputs) error {
	var group platform.GroupFile
	if err := tomlfile.Read(in.group, &group); err != nil {
		return platform.NewError(platform.CodeBuildError, err)
	}
	var plan platform.PlanFile
	if err := tomlfile.Read(in.plan, &plan); err != nil {
		return platform.NewError(platform.CodeBuildError, err)
	}
	target, err := in.target()
	if err != nil {
		return platform.NewError(platform.CodeBuildError, err)
	}
	pt := &lifecycle.ProcessTime{}
	defer in.reportProcessTime(pt)
	_, err = lifecycle.Build(ctx, lifecycle.BuildInputs{
		ProcessTime: pt,
		AppDir:      in.app, LayersDir: in.layers, PlatformDir: in.platformDir, BuildpacksDir: in.buildpacks,
		BuildConfigDir: in.buildConfig, Group: group.Group, Plan: plan, Target: target, ExecEnv: in.execEnv,
		Platform: in.platformAPI, Environ: os.Environ(), Out: in.stdout,
	})
	return err
}

// reportProcessTime prints the time spent in buildpack processes for `slipway build`, which
// subtracts it from the phase's time to report its own overhead (lifecycle.ProcessTimeEnv).
func (in *phaseInputs) reportProcessTime(pt *lifecycle.ProcessTime) {
	if os.Getenv(lifecycle.ProcessTimeEnv) == "1" {
		fmt.Fprintf(in.stderr, "%s%d\n", lifecycle.ProcessTimePrefix, pt.Total().Nanoseconds())
	}
}
