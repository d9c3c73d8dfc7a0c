package python

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// Layer names.
const (
	layerCPython = "cpython"   // the interpreter (launch, build, cache)
	layerVenv    = "venv"      // the app's dependencies (launch, build, cache)
	layerTools   = "tools"     // pip / pipenv / poetry / uv (build, cache)
	layerPipWhl  = "pip-whl"   // Debian's pip wheel, to bootstrap pip (build, cache)
	layerCache   = "pip-cache" // pip's, Poetry's and uv's download caches (cache)
	layerDebs    = "debs"      // .debs of the Debian CPython (cache)
)

// Defaults of the tools installed from the index; each is overridable.
const (
	DefaultPipenvVersion = "2024.4.0"
	DefaultPoetryVersion = "1.8.5"
	DefaultUVVersion     = "0.5.11"
	DefaultStandalone    = "https://github.com/astral-sh/python-build-standalone/releases/download"
	DefaultStandaloneRel = "20241016"
)

// sourceDateEpoch makes pip and compileall write hash-checked bytecode, which stays valid
// after the exporter normalises file times (and is reproducible).
const sourceDateEpoch = "315532801"

// Build installs CPython, the dependencies and declares the processes.
func Build(ctx context.Context, bc sdk.BuildContext) (sdk.BuildResult, error) {
	log := bc.Log
	log.Title("Slipway Python buildpack")
	cfg := readConfig(bc.Env, bc.PlatformDir)
	if cfg.LiveReload {
		log.Warnf("BP_LIVE_RELOAD_ENABLED is not supported by slipway/python; ignored")
	}
	req, err := FindRequirement(bc.AppDir, cfg.Version)
	if err != nil {
		return sdk.BuildResult{}, err
	}
	tool, err := ChooseTool(bc.AppDir, cfg.Requirement)
	if err != nil {
		return sdk.BuildResult{}, err
	}
	tmp, err := os.MkdirTemp("", "slipway-python-")
	if err != nil {
		return sdk.BuildResult{}, fmt.Errorf("create temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)

	debs, err := cacheLayer(bc, layerDebs)
	if err != nil {
		return sdk.BuildResult{}, err
	}
	triple, err := tripleOf(bc.Target.Arch)
	if err != nil {
		return sdk.BuildResult{}, err
	}
	rt, err := bc.Layers.Get(layerCPython)
	if err != nil {
		return sdk.BuildResult{}, err
	}
	wheels, err := bc.Layers.Get(layerPipWhl)
	if err != nil {
		return sdk.BuildResult{}, err
	}
	sources := map[string]Source{
		"debian":     &debianSource{apt: &sdk.Apt{Cache: debs, Log: log}, log: log, lay: rt, wheels: wheels},
		"standalone": &standaloneSource{mirror: cfg.StandaloneMirror, release: cfg.StandaloneRelease, triple: triple, fetcher: &sdk.Fetcher{}, tmp: tmp},
	}
	order := []string{cfg.Source}
	if !cfg.SourceSet {
		order = []string{"debian", "standalone"}
	}
	src, version, err := chooseRuntime(ctx, req, order, sources)
	if err != nil {
		return sdk.BuildResult{}, err
	}
	log.Step("CPython %s (from %s %q, source %s)", version, req.Source, req.Text, src.Name())
	python, reused, err := src.Install(ctx, version, rt)
	if err != nil {
		return sdk.BuildResult{}, err
	}
	if reused {
		log.Step("Reusing CPython %s layer", version)
	} else {
		log.Step("Installed CPython %s into layer %s", version, layerCPython)
		if err := rt.LaunchEnv().Default("PYTHONUNBUFFERED", "1"); err != nil {
			return sdk.BuildResult{}, err
		}
		// PORT convention: the app listens on $PORT; 8080 unless the platform sets it.
		if err := rt.LaunchEnv().Default("PORT", "8080"); err != nil {
			return sdk.BuildResult{}, err
		}
	}
	rt.Metadata["version"], rt.Metadata["source"] = version.String(), src.Name()
	if m, ok := src.(interface{ metadata() map[string]any }); ok {
		for k, v := range m.metadata() {
			rt.Metadata[k] = v
		}
	}
	rt.Types = sdk.LayerTypes{Launch: true, Build: true, Cache: true}
	if err := rt.Write(); err != nil {
		return sdk.BuildResult{}, err
	}

	pipCache, err := cacheLayer(bc, layerCache)
	if err != nil {
		return sdk.BuildResult{}, err
	}
	env := toolEnv(bc.Env, python, rt.Path, pipCache.Path)
	for _, b := range bc.Env.Bindings(bc.PlatformDir, "pip") {
		// A service binding of type pip supplies pip.conf (index URLs, credentials)
		// without putting it in the app or the image (servicebinding.io).
		conf := filepath.Join(b.Path, "pip.conf")
		if exists(conf) {
			env = append(env, "PIP_CONFIG_FILE="+conf)
			log.Step("Using pip.conf from binding %s", b.Name)
		}
	}
	in := installer{bc: bc, env: env, out: log.Writer(), python: python}

	var venvPath string
	if tool == nil {
		log.Step("No requirements.txt, Pipfile, poetry.lock, uv.lock or pyproject.toml: no dependencies to install")
	} else {
		pipWheel, err := src.PipWheel(ctx, rt, version)
		if err != nil {
			return sdk.BuildResult{}, err
		}
		venvPath, err = installDeps(ctx, in, cfg, tool, version, pipWheel)
		if err != nil {
			return sdk.BuildResult{}, err
		}
	}

	// Bytecode for the app, hash-checked (valid whatever the file times in the image).
	if err := in.run(ctx, bc.AppDir, python, "-m", "compileall", "-q", "--invalidation-mode", "checked-hash",
		"-x", "/(\\.git|node_modules|\\.venv|venv)/", bc.AppDir); err != nil {
		log.Warnf("compiling the app's bytecode: %v", err)
	}

	var res sdk.BuildResult
	if exists(filepath.Join(bc.AppDir, "Procfile")) {
		log.Step("Procfile present: its processes are used")
		return res, nil
	}
	p, why := webProcess(bc.AppDir, venvPath)
	if p == nil {
		log.Warnf("%s: the image has no web process; add a Procfile", why)
		return res, nil
	}
	log.Step("Process web: %s (%s)", strings.Join(p.Command, " "), why)
	res.Launch.Processes = append(res.Launch.Processes, *p)
	return res, nil
}

// toolEnv is the environment the build's Python runs and tools get: the user's (which
// carries their index configuration: PIP_INDEX_URL, UV_INDEX_URL, …) with the runtime
// first on PATH, the tools' download caches in the cache layer at pipCache, and
// reproducible bytecode.
func toolEnv(user sdk.Environ, python, runtime, pipCache string) []string {
	return user.List(
		"PATH="+filepath.Dir(python)+":"+user.Get("PATH"),
		"LD_LIBRARY_PATH="+strings.Trim(runtimeLibs(runtime)+":"+user.Get("LD_LIBRARY_PATH"), ":"),
		"PIP_CACHE_DIR="+filepath.Join(pipCache, "pip"),
		"PIP_DISABLE_PIP_VERSION_CHECK=1",
		"PIP_NO_INPUT=1",
		"PIP_PROGRESS_BAR=off",
		"SOURCE_DATE_EPOCH="+sourceDateEpoch,
		"POETRY_CACHE_DIR="+filepath.Join(pipCache, "poetry"),
		"UV_CACHE_DIR="+filepath.Join(pipCache, "uv"),
		"PIPENV_CACHE_DIR="+filepath.Join(pipCache, "pipenv"),
		"PYTHONPYCACHEPREFIX=",
		// The build's Python runs would write the bytecode of what they import from the
		// standard library into the cpython launch layer (timestamp-checked, a different
		// set each build). compileall and the installers write the app's and the
		// dependencies' bytecode explicitly, which this does not stop.
		"PYTHONDONTWRITEBYTECODE=1",
	)
}

func cacheLayer(bc sdk.BuildContext, name string) (*sdk.Layer, error) {
	l, err := bc.Layers.Get(name)
	if err != nil {
		return nil, err
	}
	l.Types = sdk.LayerTypes{Cache: true}
	if err := l.Write(); err != nil {
		return nil, err
	}
	return l, nil
}

func runtimeLibs(layer string) string {
	var out []string
	for _, p := range []string{filepath.Join(layer, "lib"), libPath(layer)} {
		if p != "" && exists(p) {
			out = append(out, p)
		}
	}
	return strings.Join(out, ":")
}

// VersionError says no source has a matching version, listing what each offers.
type VersionError struct {
	Requirement Requirement
	Offers      map[string][]Version
	Errors      map[string]error
	Order       []string
}

func (e *VersionError) Error() string {
	var parts []string
	for _, s := range e.Order {
		if err := e.Errors[s]; err != nil {
			parts = append(parts, fmt.Sprintf("%s: %v", s, err))
			continue
		}
		var vs []string
		for _, v := range e.Offers[s] {
			vs = append(vs, v.String())
		}
		if len(vs) == 0 {
			vs = []string{"none"}
		}
		parts = append(parts, fmt.Sprintf("%s offers %s", s, strings.Join(vs, ", ")))
	}
	return fmt.Sprintf("no CPython matches %q (from %s); sources tried: %s. Change the version or set BP_CPYTHON_SOURCE", e.Requirement.Text, e.Requirement.Source, strings.Join(parts, "; "))
}

func chooseRuntime(ctx context.Context, req Requirement, order []string, sources map[string]Source) (Source, Version, error) {
	ve := &VersionError{Requirement: req, Offers: map[string][]Version{}, Errors: map[string]error{}, Order: order}
	for _, name := range order {
		src, ok := sources[name]
		if !ok {
			return nil, Version{}, fmt.Errorf("BP_CPYTHON_SOURCE=%q: want debian or standalone", name)
		}
		vs, err := src.Versions(ctx)
		if err != nil {
			if len(order) == 1 {
				return nil, Version{}, err
			}
			ve.Errors[name] = err
			continue
		}
		ve.Offers[name] = vs
		if v, ok := req.Newest(vs); ok {
			return src, v, nil
		}
	}
	return nil, Version{}, ve
}

// installDeps makes (or reuses) the venv layer with the app's dependencies and returns
// its path. A virtual environment is the layout every Python tool understands (pip,
// Pipenv, Poetry and uv install into an active one), its bin/ holds the console scripts
// (gunicorn, uvicorn), and it keeps the app's packages apart from the interpreter's; it
// refers to the interpreter by the runtime layer's path, which is the same at launch.
func installDeps(ctx context.Context, in installer, cfg config, tool *Tool, version Version, pipWheel string) (string, error) {
	bc, log := in.bc, in.bc.Log
	lay, err := bc.Layers.Get(layerVenv)
	if err != nil {
		return "", err
	}
	key, err := tool.inputsKey(bc.AppDir)
	if err != nil {
		return "", err
	}
	toolVersion := map[string]string{"pip": cfg.PipVersion, "pipenv": cfg.PipenvVersion, "poetry": cfg.PoetryVersion, "uv": cfg.UVVersion}[tool.Name]
	want := map[string]any{"inputs": key, "python": version.String(), "tool": tool.Name, "tool-version": toolVersion, "pip": cfg.PipVersion}
	// The tool's layer is kept (reused) while the venv is, so a change of the lock inputs
	// later finds it in the cache.
	bin, err := installTool(ctx, in, tool.Name, toolVersion, version, pipWheel)
	if err != nil {
		return "", err
	}
	venvPip := pipWheel
	if tool.Name == "pip" {
		// pip runs from the tools layer against the venv (its --python option, pip 22.3
		// and later), so the image does not carry pip, which the app does not use at
		// launch; an app that does lists pip in its requirements.
		venvPip = ""
		want["pip-in-venv"] = false
	}
	venv := lay.Path
	in.env = append(in.env, "VIRTUAL_ENV="+venv, "PATH="+filepath.Join(venv, "bin")+":"+envValue(in.env, "PATH"))
	if lay.MetadataMatches(want) && exists(filepath.Join(venv, "bin", "python")) {
		log.Step("Reusing the virtual environment (%s unchanged, CPython %s)", strings.Join(tool.Inputs, ", "), version)
	} else {
		log.Step("Installing dependencies with %s into layer %s", tool.Name, layerVenv)
		if err := lay.Reset(); err != nil {
			return "", err
		}
		pipVersion := cfg.PipVersion
		if venvPip == "" {
			pipVersion = ""
		}
		if err := in.venv(ctx, venv, venvPip, pipVersion); err != nil {
			return "", err
		}
		vpy := filepath.Join(venv, "bin", "python")
		switch tool.Name {
		case "pip":
			args := pipInstallArgs(bin, vpy, tool)
			if err := in.run(ctx, bc.AppDir, args...); err != nil {
				if why := probeIndex(ctx, bc.Env, bc.AppDir, tool.Requirements); why != "" {
					return "", fmt.Errorf("pip could not install the dependencies: the index fails: %s (%w)", why, err)
				}
				return "", fmt.Errorf("pip could not install the dependencies (index %s): %w", indexURL(bc.Env), err)
			}
		case "pipenv", "poetry", "uv":
			if err := runTool(ctx, in, tool, bin, venv); err != nil {
				return "", err
			}
		}
		if err := lay.SharedEnv().Prepend("PATH", filepath.Join(venv, "bin"), ":"); err != nil {
			return "", err
		}
		if err := lay.SharedEnv().Override("VIRTUAL_ENV", venv); err != nil {
			return "", err
		}
	}
	lay.Metadata = want
	lay.Types = sdk.LayerTypes{Launch: true, Build: true, Cache: true}
	if err := lay.Write(); err != nil {
		return "", err
	}
	return venv, nil
}

func envValue(env []string, name string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == name {
			v = val
		}
	}
	return v
}

// pipInstallArgs is the pip command line that installs the app's dependencies into the
// venv whose interpreter is vpy, with pip at pip (outside the venv).
func pipInstallArgs(pip, vpy string, tool *Tool) []string {
	args := []string{pip, "--python", vpy, "install"}
	if tool.Project {
		args = append(args, "-e", ".")
	}
	for _, r := range tool.Requirements {
		args = append(args, "-r", r)
	}
	return args
}

// installTool puts pip, pipenv, poetry or uv (pinned version; for pip the runtime's pip
// unless BP_PIP_VERSION is set) into the tools layer, a venv of its own so the tool's
// dependencies never mix with the app's, and returns the tool's command; reused while
// the tool version, pip wheel and CPython are unchanged. The layer is for the build only.
func installTool(ctx context.Context, in installer, name, version string, py Version, pipWheel string) (string, error) {
	lay, err := in.bc.Layers.Get(layerTools)
	if err != nil {
		return "", err
	}
	want := map[string]any{"tool": name, "version": version, "python": py.String(), "pip-wheel": filepath.Base(pipWheel)}
	bin := filepath.Join(lay.Path, "bin", name)
	if lay.MetadataMatches(want) && exists(bin) {
		in.bc.Log.Detail("reusing %s %s", name, version)
	} else if name == "pip" {
		in.bc.Log.Detail("installing pip %s for the build", strings.TrimSpace(version+" "+filepath.Base(pipWheel)))
		if err := lay.Reset(); err != nil {
			return "", err
		}
		if err := in.venv(ctx, lay.Path, pipWheel, version); err != nil {
			return "", err
		}
	} else {
		in.bc.Log.Detail("installing %s %s from %s", name, version, indexURL(in.bc.Env))
		if err := lay.Reset(); err != nil {
			return "", err
		}
		if err := in.venv(ctx, lay.Path, pipWheel, ""); err != nil {
			return "", err
		}
		if err := in.run(ctx, in.bc.AppDir, filepath.Join(lay.Path, "bin", "python"), "-m", "pip", "install", "--quiet", name+"=="+version); err != nil {
			return "", fmt.Errorf("%s %s is not available: pip installs it from the index %s, which failed (%w); make it available there, or set %s to a version the index has", name, version, indexURL(in.bc.Env), err, versionVar[name])
		}
	}
	lay.Metadata = want
	lay.Types = sdk.LayerTypes{Build: true, Cache: true}
	if err := lay.Write(); err != nil {
		return "", err
	}
	return bin, nil
}

// versionVar is the variable that pins each tool's version.
var versionVar = map[string]string{"pip": "BP_PIP_VERSION", "pipenv": "BP_PIPENV_VERSION", "poetry": "BP_POETRY_VERSION", "uv": "BP_UV_VERSION"}

// uvIndexURL is the index uv uses, for error messages.
func uvIndexURL(env sdk.Environ) string {
	for _, k := range []string{"UV_INDEX_URL", "UV_DEFAULT_INDEX"} {
		if v := env.Get(k); v != "" {
			return v
		}
	}
	return "https://pypi.org/simple (uv's default; set UV_INDEX_URL for a mirror)"
}

func runTool(ctx context.Context, in installer, tool *Tool, bin, venv string) error {
	bc := in.bc
	switch tool.Name {
	case "pipenv":
		// With VIRTUAL_ENV set pipenv installs into that environment instead of making
		// its own; --deploy refuses a Pipfile.lock that is out of date with the Pipfile.
		in.env = append(in.env, "PIPENV_VERBOSITY=-1", "PIPENV_NOSPIN=1", "PIPENV_YES=1")
		if u := bc.Env.Get("PIP_INDEX_URL"); u != "" {
			in.env = append(in.env, "PIPENV_PYPI_MIRROR="+u)
		}
		args := []string{bin, "install", "--deploy"}
		if !exists(filepath.Join(bc.AppDir, "Pipfile.lock")) {
			args = []string{bin, "install", "--skip-lock"}
		}
		if err := in.run(ctx, bc.AppDir, args...); err != nil {
			return fmt.Errorf("pipenv could not install the dependencies (see its message above; index %s): %w", indexURL(bc.Env), err)
		}
	case "poetry":
		in.env = append(in.env, "POETRY_VIRTUALENVS_CREATE=false", "POETRY_NO_INTERACTION=1")
		if bc.Env.Get("PYTHON_KEYRING_BACKEND") == "" {
			// Poetry asks the system keyring for index credentials; a build has none, and
			// a Secret Service backend can wait on D-Bus. Credentials come from Poetry's
			// own POETRY_HTTP_BASIC_* variables.
			in.env = append(in.env, "PYTHON_KEYRING_BACKEND=keyring.backends.null.Keyring")
		}
		if err := in.run(ctx, bc.AppDir, bin, "install", "--only", "main", "--no-root", "--no-interaction"); err != nil {
			return fmt.Errorf("poetry could not install the dependencies (see its message above): %w", err)
		}
	case "uv":
		// uv syncs the venv the buildpack made (UV_PROJECT_ENVIRONMENT) with the layer's
		// CPython and never downloads one; it compiles no bytecode unless asked.
		in.env = append(in.env, "UV_PROJECT_ENVIRONMENT="+venv, "UV_PYTHON="+filepath.Join(venv, "bin", "python"), "UV_PYTHON_DOWNLOADS=never", "UV_COMPILE_BYTECODE=1")
		if err := in.run(ctx, bc.AppDir, bin, "sync", "--frozen", "--no-dev", "--no-install-project"); err != nil {
			return fmt.Errorf("uv could not install the dependencies from uv.lock (see its message above; index %s): %w", uvIndexURL(bc.Env), err)
		}
	default:
		return errors.New("unknown tool " + tool.Name)
	}
	return nil
}
