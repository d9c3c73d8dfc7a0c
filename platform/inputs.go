package platform

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/slipway/slipway/api"
)

// Phase names a lifecycle phase, the name it answers to as /cnb/lifecycle/<phase>
// (platform.md, Operations; platform.md, Usage).
type Phase string

// The phases slipway implements. The extender is not one of them: slipway does not run image
// extensions (docs/platform-api.md).
const (
	Analyzer Phase = "analyzer"
	Detector Phase = "detector"
	Restorer Phase = "restorer"
	Builder  Phase = "builder"
	Exporter Phase = "exporter"
	Creator  Phase = "creator"
	Rebaser  Phase = "rebaser"
)

// Phases lists every phase in the order of a build, the rebaser last.
var Phases = []Phase{Analyzer, Detector, Restorer, Builder, Exporter, Creator, Rebaser}

// Default file names under the layers directory and the builder (platform.md, Usage (default locations)).
const (
	DefaultRunPath    = CNBDir + "/run.toml"
	DefaultStackPath  = CNBDir + "/stack.toml"
	DefaultSystemPath = CNBDir + "/system.toml"
	DefaultOrderPath  = CNBDir + "/order.toml"
	DefaultLogLevel   = "info"
	DefaultExecEnv    = "production"
)

// Inputs are every input of every phase, resolved once from, in order of precedence, the
// command-line flags, the CNB_* environment and the defaults of the requested Platform API
// (platform.md, Inputs of each phase). A phase reads only the fields its flags define.
type Inputs struct {
	Platform api.Platform
	Phase    Phase

	// Directories (platform.md, Usage (default locations)).
	AppDir, LayersDir, PlatformDir, BuildpacksDir, BuildConfigDir, ExtensionsDir string
	// Files the phases read or write; the ones under the layers directory default there.
	AnalyzedPath, GroupPath, PlanPath, OrderPath, RunPath, StackPath, SystemPath string
	ProjectMetadataPath, ReportPath                                              string
	LauncherPath, LauncherSBOMDir                                                string

	// OutputImage is the first positional <image>; AdditionalTags are -tag values and, for the
	// exporter and rebaser, the other positional images.
	OutputImage    string
	AdditionalTags []string
	PreviousImage  string
	RunImage       string
	BuildImage     string

	CacheDir, CacheImage string
	// LaunchCacheDir holds layers by diffID so a daemon export need not read them back from
	// the daemon (platform.md, exporter: -launch-cache).
	LaunchCacheDir string
	// SkipLayers is the analyzer's and restorer's -skip-layers and the creator's -skip-restore.
	SkipLayers bool

	// Where images are read from and written to: a registry (the default), a Docker Engine
	// API (-daemon, CNB_USE_DAEMON) or OCI layouts under LayoutDir (-layout, CNB_USE_LAYOUT).
	UseDaemon, UseLayout bool
	LayoutDir            string
	InsecureRegistries   []string

	ParallelExport     bool
	DefaultProcessType string
	UID, GID           int
	LogLevel           string
	NoColor            bool
	ExecEnv            string
	ForceRebase        bool

	// Image extension inputs: accepted as flags for the Platform APIs that define them, and
	// refused when set, since slipway does not run extensions.
	ExtendedDir, GeneratedDir string

	// given records which inputs the platform set explicitly, by flag name: "flag" or "env".
	given map[string]string
}

// Env reads "KEY=VALUE" entries; the last one wins, as in a process environment.
type Env []string

// Get returns the value of key, "" when unset.
func (e Env) Get(key string) string { v, _ := lookup(e, key); return v }

func (e Env) bool(key string) bool {
	b, err := strconv.ParseBool(e.Get(key))
	return err == nil && b
}

func (e Env) int(key string) int {
	n, err := strconv.Atoi(e.Get(key))
	if err != nil {
		return 0
	}
	return n
}

func (e Env) or(key, def string) string {
	if v := e.Get(key); v != "" {
		return v
	}
	return def
}

// placeholderLayers stands for the layers directory in defaults until the flags are parsed.
const placeholderLayers = "<layers>"

// NewInputs is step one of input resolution: every input from the environment, else its
// default; paths under the layers directory are placeholders until Resolve.
func NewInputs(p api.Platform, phase Phase, env Env) *Inputs {
	under := func(key, file string) string { return env.or(key, filepath.Join(placeholderLayers, file)) }
	in := &Inputs{
		Platform: p, Phase: phase,
		AppDir:      env.or("CNB_APP_DIR", AppDir),
		LayersDir:   env.or("CNB_LAYERS_DIR", LayersDir),
		PlatformDir: env.or("CNB_PLATFORM_DIR", PlatformDir),

		BuildpacksDir:  env.or("CNB_BUILDPACKS_DIR", BuildpacksDir),
		BuildConfigDir: env.or("CNB_BUILD_CONFIG_DIR", BuildConfigDir),
		ExtensionsDir:  env.or("CNB_EXTENSIONS_DIR", CNBDir+"/extensions"),

		AnalyzedPath:        under("CNB_ANALYZED_PATH", "analyzed.toml"),
		GroupPath:           under("CNB_GROUP_PATH", "group.toml"),
		PlanPath:            under("CNB_PLAN_PATH", "plan.toml"),
		OrderPath:           under("CNB_ORDER_PATH", "order.toml"),
		ProjectMetadataPath: under("CNB_PROJECT_METADATA_PATH", "project-metadata.toml"),
		ReportPath:          under("CNB_REPORT_PATH", "report.toml"),
		RunPath:             env.or("CNB_RUN_PATH", DefaultRunPath),
		StackPath:           env.or("CNB_STACK_PATH", DefaultStackPath),
		SystemPath:          env.or("CNB_SYSTEM_PATH", DefaultSystemPath),
		LauncherPath:        env.or("CNB_LAUNCHER_PATH", LauncherPath),
		LauncherSBOMDir:     env.or("CNB_LAUNCHER_SBOM_DIR", LifecycleDir+"/sbom"),

		PreviousImage: env.Get("CNB_PREVIOUS_IMAGE"),
		RunImage:      env.Get("CNB_RUN_IMAGE"),
		BuildImage:    env.Get("CNB_BUILD_IMAGE"),

		CacheDir:       env.Get("CNB_CACHE_DIR"),
		CacheImage:     env.Get("CNB_CACHE_IMAGE"),
		LaunchCacheDir: env.Get("CNB_LAUNCH_CACHE_DIR"),
		SkipLayers:     env.bool("CNB_SKIP_LAYERS") || env.bool("CNB_SKIP_RESTORE"),

		UseDaemon: env.bool("CNB_USE_DAEMON"),
		UseLayout: env.bool("CNB_USE_LAYOUT"),
		LayoutDir: env.Get("CNB_LAYOUT_DIR"),

		ParallelExport:     env.bool("CNB_PARALLEL_EXPORT"),
		DefaultProcessType: env.Get("CNB_PROCESS_TYPE"),
		UID:                env.int("CNB_USER_ID"),
		GID:                env.int("CNB_GROUP_ID"),
		LogLevel:           env.or("CNB_LOG_LEVEL", DefaultLogLevel),
		NoColor:            env.bool("CNB_NO_COLOR"),
		ExecEnv:            env.or("CNB_EXEC_ENV", DefaultExecEnv),
		ForceRebase:        env.bool("CNB_FORCE_REBASE"),

		ExtendedDir:  env.Get("CNB_EXTENDED_DIR"),
		GeneratedDir: env.Get("CNB_GENERATED_DIR"),
		given:        map[string]string{},
	}
	if v := env.Get("CNB_INSECURE_REGISTRIES"); v != "" {
		in.InsecureRegistries = splitList(v)
	}
	for _, f := range flagTable {
		if f.env != "" && env.Get(f.env) != "" {
			in.given[f.name] = "env"
		}
	}
	return in
}

func splitList(v string) []string {
	var out []string
	for _, r := range strings.Split(v, ",") {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	return out
}

// Given reports whether the platform set the input of flag name, by flag or environment.
func (in *Inputs) Given(name string) bool { return in.given[name] != "" }

// resolve is the last step of input resolution, once the flags and positional arguments are
// known: layers placeholders are replaced, the order falls back to /cnb/order.toml, and
// inputs that cannot work together are refused (platform.md, Inputs of each phase).
func (in *Inputs) resolve(args []string, exists func(string) bool) error {
	for _, p := range []*string{&in.AnalyzedPath, &in.GroupPath, &in.PlanPath, &in.OrderPath, &in.ProjectMetadataPath, &in.ReportPath} {
		if strings.HasPrefix(*p, placeholderLayers) {
			placeholderOrder := *p == filepath.Join(placeholderLayers, "order.toml")
			*p = filepath.Join(in.LayersDir, strings.TrimPrefix(*p, placeholderLayers))
			// platform.md, Usage: the order is <layers>/order.toml if present, else /cnb/order.toml.
			if placeholderOrder && !exists(*p) {
				*p = DefaultOrderPath
			}
		}
	}
	invalid := func(format string, a ...any) error {
		return NewError(CodeInvalidArgs, fmt.Errorf(format, a...))
	}
	switch in.Phase {
	case Analyzer, Creator:
		if len(args) != 1 {
			return invalid("received %d arguments, but expected 1: the <image> to build", len(args))
		}
		in.OutputImage = args[0]
	case Exporter, Rebaser:
		if len(args) == 0 {
			return invalid("at least one image argument is required: the <image> to write")
		}
		in.OutputImage, in.AdditionalTags = args[0], append(args[1:len(args):len(args)], in.AdditionalTags...)
	default:
		if len(args) > 0 {
			return invalid("received unexpected arguments %q", args)
		}
	}
	if in.Given("extended") || in.Given("generated") {
		return invalid("image extensions are not supported: slipway runs no extender, so -extended and -generated (CNB_EXTENDED_DIR, CNB_GENERATED_DIR) cannot be used; build with a builder without extensions")
	}
	if in.UseDaemon && in.UseLayout {
		return invalid("-daemon and -layout exclude each other: choose the Docker daemon or OCI layouts")
	}
	if in.UseLayout && in.LayoutDir == "" {
		return invalid("-layout needs -layout-dir (CNB_LAYOUT_DIR): the directory holding the OCI image layouts")
	}
	if in.Phase == Exporter && (in.given["run-image"] == "flag" || in.given["image"] == "flag") {
		// platform.md, exporter: the run image is the one analyzed.toml names.
		return invalid("-run-image is not an exporter input for Platform API %s: the run image comes from analyzed.toml (set it with the analyzer's -run-image)", in.Platform.Version)
	}
	if strings.Contains(in.ExecEnv, "/") {
		return invalid("CNB_EXEC_ENV %q must not contain '/'", in.ExecEnv)
	}
	switch in.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return invalid("-log-level %q: want debug, info, warn or error", in.LogLevel)
	}
	if !in.UseDaemon && in.OutputImage != "" && (in.Phase == Analyzer || in.Phase == Creator) {
		if err := sameRegistry(in.OutputImage, in.AdditionalTags); err != nil {
			return NewError(CodeInvalidArgs, err)
		}
	}
	return nil
}

// DestinationImages are the output image and its additional tags.
func (in *Inputs) DestinationImages() []string {
	return append([]string{in.OutputImage}, in.AdditionalTags...)
}
