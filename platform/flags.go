package platform

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/slipway/slipway/api"
)

// CodeUsage is the exit code of a command line the flag parser rejects (an unknown flag,
// or one the requested Platform API does not define): the reference lifecycle's flag set
// exits with it, and platforms such as pack see it.
const CodeUsage = 2

// flagDef is one flag of the Platform API: the phases that define it, from which Platform
// API on (platform.md, Inputs of each phase; the reference lifecycle's cmd/lifecycle flags).
type flagDef struct {
	name, env, usage string
	// since maps each phase defining the flag to the first Platform API that does.
	since map[Phase]string
	// until, when set, is the first Platform API that no longer defines it.
	until string
	bind  func(fs *flag.FlagSet, in *Inputs, name, usage string)
}

func str(field func(*Inputs) *string) func(*flag.FlagSet, *Inputs, string, string) {
	return func(fs *flag.FlagSet, in *Inputs, n, u string) { p := field(in); fs.StringVar(p, n, *p, u) }
}

func boolean(field func(*Inputs) *bool) func(*flag.FlagSet, *Inputs, string, string) {
	return func(fs *flag.FlagSet, in *Inputs, n, u string) { p := field(in); fs.BoolVar(p, n, *p, u) }
}

func integer(field func(*Inputs) *int) func(*flag.FlagSet, *Inputs, string, string) {
	return func(fs *flag.FlagSet, in *Inputs, n, u string) { p := field(in); fs.IntVar(p, n, *p, u) }
}

// listValue is a repeatable flag; values may also be comma-separated. The first use
// replaces what the environment gave.
type listValue struct {
	p   *[]string
	set bool
}

func (l *listValue) String() string {
	if l.p == nil {
		return ""
	}
	return strings.Join(*l.p, ",")
}

func (l *listValue) Set(v string) error {
	if !l.set {
		*l.p, l.set = nil, true
	}
	*l.p = append(*l.p, splitList(v)...)
	return nil
}

func list(field func(*Inputs) *[]string) func(*flag.FlagSet, *Inputs, string, string) {
	return func(fs *flag.FlagSet, in *Inputs, n, u string) { fs.Var(&listValue{p: field(in)}, n, u) }
}

// all is every phase at every supported Platform API.
func all(phases ...Phase) map[Phase]string {
	m := map[Phase]string{}
	for _, p := range phases {
		m[p] = "0.7"
	}
	return m
}

func with(m map[Phase]string, p Phase, since string) map[Phase]string { m[p] = since; return m }

var everyPhase = Phases

// flagTable is every flag of every phase, Platform API 0.7 to 0.15. docs/platform-api.md
// is generated from it (TestPlatformAPIDocMatchesFlagTable).
var flagTable = []flagDef{
	{name: "app", env: "CNB_APP_DIR", usage: "application directory", since: all(Detector, Builder, Exporter, Creator),
		bind: str(func(in *Inputs) *string { return &in.AppDir })},
	{name: "layers", env: "CNB_LAYERS_DIR", usage: "layers directory", since: all(Analyzer, Detector, Restorer, Builder, Exporter, Creator),
		bind: str(func(in *Inputs) *string { return &in.LayersDir })},
	{name: "platform", env: "CNB_PLATFORM_DIR", usage: "platform directory", since: all(Detector, Builder, Creator),
		bind: str(func(in *Inputs) *string { return &in.PlatformDir })},
	{name: "buildpacks", env: "CNB_BUILDPACKS_DIR", usage: "buildpacks directory", since: all(Detector, Builder, Creator),
		bind: str(func(in *Inputs) *string { return &in.BuildpacksDir })},
	{name: "build-config", env: "CNB_BUILD_CONFIG_DIR", usage: "operator build config directory",
		since: map[Phase]string{Detector: "0.11", Builder: "0.11", Creator: "0.11"},
		bind:  str(func(in *Inputs) *string { return &in.BuildConfigDir })},
	{name: "extensions", env: "CNB_EXTENSIONS_DIR", usage: "image extensions directory (extensions are not run)",
		since: map[Phase]string{Detector: "0.10"},
		bind:  str(func(in *Inputs) *string { return &in.ExtensionsDir })},
	{name: "analyzed", env: "CNB_ANALYZED_PATH", usage: "analyzed.toml",
		since: with(with(all(Analyzer, Restorer, Exporter), Detector, "0.10"), Builder, "0.12"),
		bind:  str(func(in *Inputs) *string { return &in.AnalyzedPath })},
	{name: "group", env: "CNB_GROUP_PATH", usage: "group.toml", since: all(Detector, Restorer, Builder, Exporter),
		bind: str(func(in *Inputs) *string { return &in.GroupPath })},
	{name: "plan", env: "CNB_PLAN_PATH", usage: "plan.toml", since: all(Detector, Builder),
		bind: str(func(in *Inputs) *string { return &in.PlanPath })},
	{name: "order", env: "CNB_ORDER_PATH", usage: "order.toml (<layers>/order.toml if present, else /cnb/order.toml)", since: all(Detector, Creator),
		bind: str(func(in *Inputs) *string { return &in.OrderPath })},
	{name: "run", env: "CNB_RUN_PATH", usage: "run.toml naming the run image and its mirrors",
		since: map[Phase]string{Analyzer: "0.12", Detector: "0.12", Restorer: "0.14", Exporter: "0.12", Creator: "0.12"},
		bind:  str(func(in *Inputs) *string { return &in.RunPath })},
	{name: "stack", env: "CNB_STACK_PATH", usage: "stack.toml (deprecated by run.toml; read for the run image when run.toml is missing)",
		since: all(Analyzer, Exporter, Creator), until: "0.12",
		bind: str(func(in *Inputs) *string { return &in.StackPath })},
	{name: "system", env: "CNB_SYSTEM_PATH", usage: "system.toml: buildpacks added around every group",
		since: map[Phase]string{Detector: "0.15", Creator: "0.15"},
		bind:  str(func(in *Inputs) *string { return &in.SystemPath })},
	{name: "exec-env", env: "CNB_EXEC_ENV", usage: "execution environment given to buildpacks as CNB_EXEC_ENV", since: all(Detector, Builder, Creator),
		bind: str(func(in *Inputs) *string { return &in.ExecEnv })},
	{name: "previous-image", env: "CNB_PREVIOUS_IMAGE", usage: "previous image (default <image>)", since: with(all(Analyzer, Creator), Rebaser, "0.11"),
		bind: str(func(in *Inputs) *string { return &in.PreviousImage })},
	{name: "run-image", env: "CNB_RUN_IMAGE", usage: "run image (overrides run.toml)", since: all(Analyzer, Exporter, Creator, Rebaser),
		bind: str(func(in *Inputs) *string { return &in.RunImage })},
	{name: "image", usage: "deprecated name of -run-image", since: all(Exporter, Rebaser),
		bind: str(func(in *Inputs) *string { return &in.RunImage })},
	{name: "build-image", env: "CNB_BUILD_IMAGE", usage: "build image (used only with image extensions; ignored)", since: map[Phase]string{Restorer: "0.10"},
		bind: str(func(in *Inputs) *string { return &in.BuildImage })},
	{name: "tag", usage: "additional tag of the output image (repeatable)", since: all(Analyzer, Creator),
		bind: list(func(in *Inputs) *[]string { return &in.AdditionalTags })},
	{name: "cache-dir", env: "CNB_CACHE_DIR", usage: "volume cache directory", since: all(Restorer, Exporter, Creator),
		bind: str(func(in *Inputs) *string { return &in.CacheDir })},
	{name: "cache-image", env: "CNB_CACHE_IMAGE", usage: "cache image reference", since: all(Analyzer, Restorer, Exporter, Creator),
		bind: str(func(in *Inputs) *string { return &in.CacheImage })},
	{name: "launch-cache", env: "CNB_LAUNCH_CACHE_DIR", usage: "launch cache directory: layers by diffID, so a -daemon export reads none back from the daemon",
		since: with(all(Exporter, Creator), Analyzer, "0.9"),
		bind:  str(func(in *Inputs) *string { return &in.LaunchCacheDir })},
	{name: "skip-layers", env: "CNB_SKIP_LAYERS", usage: "do not restore layer metadata or cached layers", since: with(all(Restorer), Analyzer, "0.9"),
		bind: boolean(func(in *Inputs) *bool { return &in.SkipLayers })},
	{name: "skip-restore", env: "CNB_SKIP_RESTORE", usage: "do not restore layers or layer metadata", since: all(Creator),
		bind: boolean(func(in *Inputs) *bool { return &in.SkipLayers })},
	{name: "uid", env: "CNB_USER_ID", usage: "CNB user id: owner of the layers and cache it writes", since: all(Analyzer, Restorer, Exporter, Creator, Rebaser),
		bind: integer(func(in *Inputs) *int { return &in.UID })},
	{name: "gid", env: "CNB_GROUP_ID", usage: "CNB group id", since: all(Analyzer, Restorer, Exporter, Creator, Rebaser),
		bind: integer(func(in *Inputs) *int { return &in.GID })},
	{name: "daemon", env: "CNB_USE_DAEMON", usage: "read and write images through the Docker Engine API at DOCKER_HOST",
		since: with(all(Analyzer, Exporter, Creator, Rebaser), Restorer, "0.12"),
		bind:  boolean(func(in *Inputs) *bool { return &in.UseDaemon })},
	{name: "layout", env: "CNB_USE_LAYOUT", usage: "read and write images as OCI layouts under -layout-dir",
		since: map[Phase]string{Analyzer: "0.12", Restorer: "0.12", Exporter: "0.12", Creator: "0.12"},
		bind:  boolean(func(in *Inputs) *bool { return &in.UseLayout })},
	{name: "layout-dir", env: "CNB_LAYOUT_DIR", usage: "directory of the OCI layouts (<dir>/<registry>/<repo>/<tag>)",
		since: map[Phase]string{Analyzer: "0.12", Restorer: "0.12", Exporter: "0.12", Creator: "0.12"},
		bind:  str(func(in *Inputs) *string { return &in.LayoutDir })},
	{name: "insecure-registry", env: "CNB_INSECURE_REGISTRIES", usage: "registry (host:port) to reach over plain HTTP (repeatable, or comma-separated)",
		since: map[Phase]string{Analyzer: "0.13", Restorer: "0.13", Exporter: "0.13", Creator: "0.13", Rebaser: "0.13"},
		bind:  list(func(in *Inputs) *[]string { return &in.InsecureRegistries })},
	{name: "launcher", env: "CNB_LAUNCHER_PATH", usage: "launcher binary to put in the image", since: all(Exporter, Creator),
		bind: str(func(in *Inputs) *string { return &in.LauncherPath })},
	{name: "launcher-sbom", env: "CNB_LAUNCHER_SBOM_DIR", usage: "launcher SBOM directory", since: map[Phase]string{Exporter: "0.11", Creator: "0.11"},
		bind: str(func(in *Inputs) *string { return &in.LauncherSBOMDir })},
	{name: "parallel", env: "CNB_PARALLEL_EXPORT", usage: "export the app image and the cache at the same time", since: all(Exporter, Creator),
		bind: boolean(func(in *Inputs) *bool { return &in.ParallelExport })},
	{name: "process-type", env: "CNB_PROCESS_TYPE", usage: "default process type of the image", since: all(Exporter, Creator),
		bind: str(func(in *Inputs) *string { return &in.DefaultProcessType })},
	{name: "project-metadata", env: "CNB_PROJECT_METADATA_PATH", usage: "project-metadata.toml", since: all(Exporter, Creator),
		bind: str(func(in *Inputs) *string { return &in.ProjectMetadataPath })},
	{name: "report", env: "CNB_REPORT_PATH", usage: "report.toml to write", since: all(Exporter, Creator, Rebaser),
		bind: str(func(in *Inputs) *string { return &in.ReportPath })},
	{name: "extended", env: "CNB_EXTENDED_DIR", usage: "extended run image layers (image extensions: refused)", since: map[Phase]string{Exporter: "0.12"},
		bind: str(func(in *Inputs) *string { return &in.ExtendedDir })},
	{name: "generated", env: "CNB_GENERATED_DIR", usage: "Dockerfiles of image extensions (refused)", since: map[Phase]string{Detector: "0.10", Restorer: "0.12"},
		bind: str(func(in *Inputs) *string { return &in.GeneratedDir })},
	{name: "force", env: "CNB_FORCE_REBASE", usage: "rebase even when the run image's target or io.buildpacks.rebasable forbid it", since: map[Phase]string{Rebaser: "0.12"},
		bind: boolean(func(in *Inputs) *bool { return &in.ForceRebase })},
	{name: "log-level", env: "CNB_LOG_LEVEL", usage: "debug, info, warn or error", since: all(everyPhase...),
		bind: str(func(in *Inputs) *string { return &in.LogLevel })},
	{name: "no-color", env: "CNB_NO_COLOR", usage: "disable color output (slipway's phases print none)", since: all(everyPhase...),
		bind: boolean(func(in *Inputs) *bool { return &in.NoColor })},
}

// defines reports whether phase defines the flag at Platform API v.
func (f flagDef) defines(phase Phase, v api.Version) bool {
	since, ok := f.since[phase]
	if !ok || !v.AtLeast(api.MustParse(since)) {
		return false
	}
	return f.until == "" || !v.AtLeast(api.MustParse(f.until))
}

// ErrHelp is returned by ParseInputs for -h/-help, after the usage was printed.
var ErrHelp = flag.ErrHelp

// ErrVersion is returned by ParseInputs for -version.
var ErrVersion = errors.New("version requested")

// ParseInputs resolves a phase's inputs once: CNB_PLATFORM_API first, then the flags that
// phase defines at that Platform API over the CNB_* environment over the defaults
// (platform.md, Platform API Compatibility; platform.md, Inputs). A flag the phase does not
// define at that API is refused as the flag parser refuses any unknown flag (CodeUsage);
// the usage printed to stderr lists the flags it does define.
func ParseInputs(phase Phase, args []string, env Env, stderr io.Writer) (*Inputs, error) {
	requested := env.Get("CNB_PLATFORM_API")
	p, err := api.ForPlatform(requested)
	if err != nil {
		return nil, NewError(CodeIncompatiblePlatform, err)
	}
	in := NewInputs(p, phase, env)
	fs := flag.NewFlagSet(string(phase), flag.ContinueOnError)
	fs.SetOutput(stderr)
	var version bool
	fs.BoolVar(&version, "version", false, "print the lifecycle version")
	for _, f := range flagTable {
		if f.defines(phase, p.Version) {
			f.bind(fs, in, f.name, f.usage)
		}
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage of %s (Platform API %s):\n", phase, p.Version)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, ErrHelp
		}
		if name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -"); ok {
			err = fmt.Errorf("%w (%s; CNB_PLATFORM_API=%s)", err, undefinedFlag(phase, strings.TrimPrefix(name, "-"), p.Version), orDefault(requested, "unset"))
		}
		return nil, NewError(CodeUsage, err)
	}
	if version {
		return in, ErrVersion
	}
	fs.Visit(func(f *flag.Flag) { in.given[f.Name] = "flag" })
	if err := in.resolve(fs.Args(), exists); err != nil {
		return nil, err
	}
	return in, nil
}

// undefinedFlag says why phase has no flag name at Platform API v: which APIs define it for
// this phase, or that none does.
func undefinedFlag(phase Phase, name string, v api.Version) string {
	for _, f := range flagTable {
		if f.name != name {
			continue
		}
		since, ok := f.since[phase]
		switch {
		case !ok:
			return fmt.Sprintf("-%s is not %s input at any Platform API", name, article(phase))
		case f.until != "" && v.AtLeast(api.MustParse(f.until)):
			return fmt.Sprintf("-%s is %s input only before Platform API %s, and this is %s", name, article(phase), f.until, v)
		default:
			return fmt.Sprintf("-%s is %s input from Platform API %s, and this is %s", name, article(phase), since, v)
		}
	}
	return fmt.Sprintf("-%s is not %s input at any Platform API", name, article(phase))
}

// article is "an analyzer", "a builder", …
func article(phase Phase) string {
	if strings.ContainsRune("aeiou", rune(phase[0])) {
		return "an " + string(phase)
	}
	return "a " + string(phase)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// sameRegistry checks that every tag is on the registry of image (platform.md, analyzer:
// tags must be on the same registry as <image> unless -daemon is set).
func sameRegistry(image string, tags []string) error {
	out, err := name.ParseReference(image, name.WeakValidation)
	if err != nil {
		return fmt.Errorf("image %q: %w", image, err)
	}
	for _, tag := range tags {
		r, err := name.ParseReference(tag, name.WeakValidation)
		if err != nil {
			return fmt.Errorf("-tag %q: %w", tag, err)
		}
		if r.Context().RegistryStr() != out.Context().RegistryStr() {
			return fmt.Errorf("-tag %s is not on the registry of %s (%s): tags must be on the same registry as <image> unless -daemon is set", tag, image, out.Context().RegistryStr())
		}
	}
	return nil
}

// FlagRow is one row of the phase × flag × Platform API table (docs/platform-api.md).
type FlagRow struct {
	Flag, Env string
	// Since maps each phase that defines the flag to the first Platform API that does.
	Since map[Phase]string
	// Until, when set, is the first Platform API that no longer defines the flag.
	Until string
}

// FlagRows lists every flag, sorted by name, for documentation and tests.
func FlagRows() []FlagRow {
	rows := make([]FlagRow, 0, len(flagTable))
	for _, f := range flagTable {
		since := map[Phase]string{}
		for k, v := range f.since {
			since[k] = v
		}
		rows = append(rows, FlagRow{Flag: f.name, Env: f.env, Since: since, Until: f.until})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Flag < rows[j].Flag })
	return rows
}
