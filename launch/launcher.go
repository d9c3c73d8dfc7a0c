package launch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Exit codes of the launcher when it fails before exec'ing the process; once the process
// runs, its own exit code is the launcher's (buildpack.md, Launch; platform.md, Platform API Compatibility). They equal the
// platform package's codes, which the launcher may not import.
const (
	CodeIncompatiblePlatform  = 11
	CodeIncompatibleBuildpack = 12
	CodeLaunchError           = 82
)

// ExitError carries the exit code the launcher should end with.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode returns the exit code for an error returned by Launch: the code of an
// ExitError, CodeLaunchError for any other error, 0 for nil.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return CodeLaunchError
}

func launchErr(err error) error {
	var ee *ExitError
	if err == nil || errors.As(err, &ee) {
		return err
	}
	return &ExitError{Code: CodeLaunchError, Err: err}
}

// Canonical directories the launcher strips from the process PATH (buildpack.md, Launch (environment); platform.md, exporter (Outputs)).
const (
	ProcessDir   = "/cnb/process"
	LifecycleDir = "/cnb/lifecycle"
)

// launchEnvExclude are launcher inputs that never reach the process (buildpack.md, Launch (environment)).
var launchEnvExclude = []string{
	"CNB_APP_DIR", "CNB_LAYERS_DIR", "CNB_PROCESS_TYPE", "CNB_PLATFORM_API", "CNB_DEPRECATION_MODE",
}

// Launcher is the CNB launcher (platform.md, launcher): it selects a process, assembles its
// environment and execs it. Every side effect is a field so tests can observe it.
type Launcher struct {
	AppDir    string // CNB_APP_DIR
	LayersDir string // CNB_LAYERS_DIR
	// ExecEnv is CNB_EXEC_ENV; empty means "production" (docs/spec-notes.md, API versions).
	ExecEnv string
	// PlatformAPI is CNB_PLATFORM_API; empty means the newest supported.
	PlatformAPI string
	// Metadata is <layers>/config/metadata.toml.
	Metadata Metadata
	// Env is the launcher's own environment (KEY=VALUE), the base of the launch env.
	Env []string
	// Exec replaces the launcher with the process; nil means syscall.Exec.
	Exec func(argv0 string, argv []string, env []string) error
	// Chdir moves to the process working directory just before Exec. It is required:
	// the library never changes the working directory of its host by itself.
	Chdir func(dir string) error
	// Stdout and Stderr receive exec.d output and launcher warnings; nil discards them.
	Stdout, Stderr io.Writer
}

// Execution is a fully prepared process: what Launch would chdir to and exec.
type Execution struct {
	Type string   // process type, empty for a user-provided command
	Path string   // executable passed to exec
	Argv []string // argv, argv[0] included
	Env  []string // KEY=VALUE
	Dir  string   // working directory
}

// Launch selects the process for self (argv0) and args, prepares it and execs it.
// On success it does not return (unless Exec is a test double).
func (l *Launcher) Launch(ctx context.Context, self string, args []string) error {
	x, err := l.Prepare(ctx, self, args)
	if err != nil {
		return err
	}
	if l.Chdir == nil {
		return launchErr(errors.New("launch: Launcher.Chdir is not set"))
	}
	if err := l.Chdir(x.Dir); err != nil {
		return launchErr(fmt.Errorf("change to working directory %s of process %q: %w", x.Dir, x.Type, err))
	}
	execFn := l.Exec
	if execFn == nil {
		execFn = syscall.Exec
	}
	if err := execFn(x.Path, x.Argv, x.Env); err != nil {
		return launchErr(fmt.Errorf("exec %s: %w", x.Path, err))
	}
	return nil
}

// Prepare does everything Launch does short of chdir and exec: API checks, process
// selection (buildpack.md, Launch), env assembly (buildpack.md, Launch (environment)) including exec.d (buildpack.md, Exec.d), command lookup.
// Errors are *ExitError with the launcher's exit code.
func (l *Launcher) Prepare(ctx context.Context, self string, args []string) (*Execution, error) {
	plat, bpAPIs, err := l.checkAPIs()
	if err != nil {
		return nil, err
	}
	if t, ok := lookupEnv(l.Env, "CNB_PROCESS_TYPE"); ok && t != "" {
		// platform.md, launcher: selection is by argv0 only.
		fmt.Fprintf(l.stderr(), "Warning: CNB_PROCESS_TYPE=%s is ignored; run with ENTRYPOINT %s to start that process type\n",
			t, filepath.Join(ProcessDir, t))
	}
	proc, err := l.selectProcess(self, args, plat, bpAPIs)
	if err != nil {
		return nil, launchErr(fmt.Errorf("determine start command: %w", err))
	}
	env, err := l.assembleEnv(ctx, proc.Type)
	if err != nil {
		return nil, launchErr(err)
	}
	x, err := l.execution(self, proc, env, bpAPIs)
	if err != nil {
		return nil, launchErr(err)
	}
	return x, nil
}

// checkAPIs verifies CNB_PLATFORM_API and every buildpack API in metadata.toml
// (platform.md, launcher; platform.md, Platform API Compatibility).
func (l *Launcher) checkAPIs() (apiVersion, map[string]apiVersion, error) {
	plat := platformMax
	if l.PlatformAPI != "" {
		v, err := parseAPI(l.PlatformAPI)
		if err != nil {
			return apiVersion{}, nil, &ExitError{CodeIncompatiblePlatform, fmt.Errorf("CNB_PLATFORM_API: %w", err)}
		}
		plat = v
	}
	if !plat.atLeast(platformMin) || !platformMax.atLeast(plat) {
		return apiVersion{}, nil, &ExitError{CodeIncompatiblePlatform, fmt.Errorf(
			"platform API %s (CNB_PLATFORM_API) is not supported by this launcher (supported: %s to %s)", plat, platformMin, platformMax)}
	}
	bpAPIs := map[string]apiVersion{}
	for _, bp := range l.Metadata.Buildpacks {
		v, err := parseAPI(bp.API)
		if err == nil && (!v.atLeast(buildpackMin) || !buildpackMax.atLeast(v)) {
			err = fmt.Errorf("buildpack API %s is not supported (supported: %s to %s)", bp.API, buildpackMin, buildpackMax)
		}
		if err != nil {
			return apiVersion{}, nil, &ExitError{CodeIncompatibleBuildpack, fmt.Errorf(
				"buildpack %s@%s in %s: %w", bp.ID, bp.Version, l.metadataPath(), err)}
		}
		bpAPIs[bp.ID] = v
	}
	return plat, bpAPIs, nil
}

func (l *Launcher) metadataPath() string {
	return filepath.Join(l.LayersDir, "config", "metadata.toml")
}

// assembleEnv builds the launch environment in the order of buildpack.md, Launch (environment).
func (l *Launcher) assembleEnv(ctx context.Context, procType string) (*Env, error) {
	env := NewEnv(l.Env, LaunchRootDirs, nil)
	for _, k := range launchEnvExclude {
		env.Unset(k)
	}
	if p, ok := env.Lookup("PATH"); ok {
		env.Set("PATH", stripPath(p, ProcessDir, LifecycleDir))
	}
	bpDirs, err := l.buildpackDirs()
	if err != nil {
		return nil, err
	}
	// Per buildpack: every layer's bin/lib first, then every layer's env files, as the
	// reference lifecycle does (buildpack.md, Launch (environment) step 2).
	for _, bpDir := range bpDirs {
		layers, err := subdirs(bpDir)
		if err != nil {
			return nil, err
		}
		for _, layer := range layers {
			env.AddRootDir(layer)
		}
		for _, layer := range layers {
			dirs := []string{filepath.Join(layer, "env"), filepath.Join(layer, "env.launch")}
			if procType != "" {
				dirs = append(dirs, filepath.Join(layer, "env.launch", procType))
			}
			for _, d := range dirs {
				// No suffix means override for every supported Buildpack API (buildpack.md, Environment Variable Modification Rules).
				if err := env.AddEnvDir(d, Override); err != nil {
					return nil, err
				}
			}
		}
	}
	// exec.d runs after all env files, with the env built so far (buildpack.md, Launch (environment) step 3).
	for _, bpDir := range bpDirs {
		layers, err := subdirs(bpDir)
		if err != nil {
			return nil, err
		}
		for _, layer := range layers {
			if err := l.execDDir(ctx, filepath.Join(layer, "exec.d"), env); err != nil {
				return nil, err
			}
			if procType != "" {
				if err := l.execDDir(ctx, filepath.Join(layer, "exec.d", procType), env); err != nil {
					return nil, err
				}
			}
		}
	}
	// CAs the platform binds at run time (a ca-certificates binding) join the image's.
	tmp := env.Get("TMPDIR")
	if tmp == "" {
		tmp = "/tmp"
	}
	applyCABindings(env, tmp, func(format string, args ...any) {
		fmt.Fprintf(l.stderr(), "Warning: "+format+"\n", args...)
	})
	return env, nil
}

// buildpackDirs lists <layers>/<escaped id> of each buildpack in metadata.toml order;
// buildpacks that contributed no launch layer have no directory and are skipped.
func (l *Launcher) buildpackDirs() ([]string, error) {
	var out []string
	for _, bp := range l.Metadata.Buildpacks {
		dir := filepath.Join(l.LayersDir, strings.ReplaceAll(bp.ID, "/", "_"))
		fi, err := os.Stat(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read layers of buildpack %s: %w", bp.ID, err)
		}
		if fi.IsDir() {
			out = append(out, dir)
		}
	}
	return out, nil
}

// subdirs returns the directories in dir in name order (os.ReadDir sorts); a missing
// dir has none.
func subdirs(dir string) ([]string, error) {
	return dirEntries(dir, true)
}

// files returns the non-directories in dir in name order.
func files(dir string) ([]string, error) {
	return dirEntries(dir, false)
}

func dirEntries(dir string, wantDirs bool) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() == wantDirs {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out, nil
}

// stripPath removes the given directories from a PATH value.
func stripPath(path string, drop ...string) string {
	var keep []string
	for _, p := range filepath.SplitList(path) {
		bad := false
		for _, d := range drop {
			if filepath.Clean(p) == d {
				bad = true
			}
		}
		if !bad {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, string(os.PathListSeparator))
}

func lookupEnv(environ []string, key string) (string, bool) {
	for i := len(environ) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(environ[i], "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

func (l *Launcher) stderr() io.Writer {
	if l.Stderr == nil {
		return io.Discard
	}
	return l.Stderr
}
