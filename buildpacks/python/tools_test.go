package python

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// fakeTool writes an executable shell script at path that records its arguments (one a
// line) in path.args and its environment in path.env, prints stderr and exits with code.
func fakeTool(t *testing.T, path, stderr string, code int) {
	t.Helper()
	script := "#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done >\"$0.args\"\nenv >\"$0.env\"\n"
	if stderr != "" {
		script += "echo '" + stderr + "' >&2\n"
	}
	script += "exit " + string(rune('0'+code)) + "\n"
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

func lines(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func testBuildContext(t *testing.T, app string, env sdk.Environ) (sdk.BuildContext, *strings.Builder) {
	var out strings.Builder
	return sdk.BuildContext{AppDir: app, Layers: sdk.Layers{Path: t.TempDir()}, Env: env, Log: sdk.NewLogger(&out)}, &out
}

// A uv app: uv.lock decides the tool (over poetry.lock and requirements.txt), its inputs
// are uv.lock and pyproject.toml, and uv syncs the buildpack's venv from the lock with the
// layer's CPython, without dev dependencies, downloads of Python or the project itself,
// compiling bytecode, its cache in the cache layer and the user's index.
func TestUVSync(t *testing.T) {
	app := t.TempDir()
	write(t, app, map[string]string{"uv.lock": "version = 1\n", "pyproject.toml": "[project]\nname = \"app\"\n", "poetry.lock": "", "requirements.txt": "flask\n"})
	tool, err := ChooseTool(app, "")
	if err != nil || tool == nil || tool.Name != "uv" || !slices.Equal(tool.Inputs, []string{"uv.lock", "pyproject.toml"}) {
		t.Fatalf("tool %+v err %v", tool, err)
	}
	key1, _ := tool.inputsKey(app)
	write(t, app, map[string]string{"uv.lock": "version = 1\n# changed\n"})
	if key2, _ := tool.inputsKey(app); key1 == key2 {
		t.Error("a changed uv.lock keeps the venv's key")
	}

	user := sdk.Environ{"PATH": "/usr/bin:/bin", "UV_INDEX_URL": "http://127.0.0.1:9/simple"}
	bc, _ := testBuildContext(t, app, user)
	cache := t.TempDir()
	in := installer{bc: bc, env: toolEnv(user, "/layers/cpython/usr/bin/python3.11", "/layers/cpython", cache), out: bc.Log.Writer()}
	uv := filepath.Join(t.TempDir(), "bin", "uv")
	fakeTool(t, uv, "", 0)
	venv := filepath.Join(t.TempDir(), "venv")
	if err := runTool(t.Context(), in, tool, uv, venv); err != nil {
		t.Fatal(err)
	}
	if got, want := lines(t, uv+".args"), []string{"sync", "--frozen", "--no-dev", "--no-install-project"}; !slices.Equal(got, want) {
		t.Errorf("uv %q, want %q", got, want)
	}
	env := lines(t, uv+".env")
	for _, want := range []string{
		"UV_PROJECT_ENVIRONMENT=" + venv, "UV_PYTHON=" + filepath.Join(venv, "bin", "python"), "UV_PYTHON_DOWNLOADS=never",
		"UV_COMPILE_BYTECODE=1", "UV_CACHE_DIR=" + filepath.Join(cache, "uv"), "UV_INDEX_URL=http://127.0.0.1:9/simple",
		"SOURCE_DATE_EPOCH=" + sourceDateEpoch, "PYTHONDONTWRITEBYTECODE=1", "PATH=/layers/cpython/usr/bin:/usr/bin:/bin",
	} {
		if !slices.Contains(env, want) {
			t.Errorf("uv's environment lacks %s:\n%s", want, strings.Join(env, "\n"))
		}
	}
}

// uv's own failure (an out-of-date lock, a package the index lacks) is reported as uv's,
// with the index uv used.
func TestUVSyncFails(t *testing.T) {
	app := t.TempDir()
	write(t, app, map[string]string{"uv.lock": "", "pyproject.toml": ""})
	for _, tc := range []struct {
		env   sdk.Environ
		index string
	}{
		{sdk.Environ{"PATH": "/usr/bin:/bin", "UV_INDEX_URL": "http://127.0.0.1:9/simple"}, "index http://127.0.0.1:9/simple"},
		{sdk.Environ{"PATH": "/usr/bin:/bin"}, "index https://pypi.org/simple (uv's default; set UV_INDEX_URL for a mirror)"},
	} {
		bc, _ := testBuildContext(t, app, tc.env)
		in := installer{bc: bc, env: toolEnv(tc.env, "/py/bin/python3", "/py", t.TempDir()), out: bc.Log.Writer()}
		uv := filepath.Join(t.TempDir(), "uv")
		fakeTool(t, uv, "error: The lockfile at `uv.lock` needs to be updated", 2)
		err := runTool(t.Context(), in, &Tool{Name: "uv"}, uv, t.TempDir())
		if err == nil || !strings.Contains(err.Error(), "uv could not install the dependencies from uv.lock") || !strings.Contains(err.Error(), tc.index) {
			t.Errorf("error %v, want uv's failure with %q", err, tc.index)
		}
	}
}

// When uv cannot be installed (not on the index, or not the pinned version), the error
// names uv, its version, the index and BP_UV_VERSION, and no tools layer is kept.
func TestUVUnavailable(t *testing.T) {
	app := t.TempDir()
	// The runtime's python: makes venvs (copying itself as their python), bootstraps pip
	// from a wheel, and fails like pip does on a requirement the index lacks.
	python := filepath.Join(t.TempDir(), "python3")
	if err := os.WriteFile(python, []byte(`#!/bin/sh
case "$1 $2" in
"-m venv") mkdir -p "$4/bin" && cp "$0" "$4/bin/python" && exit 0 ;;
"-m pip") echo "ERROR: No matching distribution found for $5" >&2; exit 1 ;;
esac
exit 0
`), 0o755); err != nil {
		t.Fatal(err)
	}
	env := sdk.Environ{"PATH": "/usr/bin:/bin", "PIP_INDEX_URL": "http://127.0.0.1:9/simple"}
	bc, out := testBuildContext(t, app, env)
	in := installer{bc: bc, env: toolEnv(env, python, filepath.Dir(python), t.TempDir()), out: out, python: python}
	_, err := installTool(t.Context(), in, "uv", DefaultUVVersion, Version{3, 11, 2}, "/wheels/pip-23.0.1-py3-none-any.whl")
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"uv " + DefaultUVVersion + " is not available", "index http://127.0.0.1:9/simple", "BP_UV_VERSION"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if !strings.Contains(out.String(), "No matching distribution found for uv=="+DefaultUVVersion) {
		t.Errorf("pip's message is not in the build output:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(bc.Layers.Path, layerTools+".toml")); !os.IsNotExist(err) {
		t.Errorf("a tools layer was kept after the failure: %v", err)
	}
}

// A requirements.txt app: pip runs from the tools layer against the venv's interpreter.
func TestPipInstallArgs(t *testing.T) {
	got := pipInstallArgs("/tools/bin/pip", "/venv/bin/python", &Tool{Name: "pip", Requirements: []string{"requirements.txt", "requirements/prod.txt"}})
	if want := []string{"/tools/bin/pip", "--python", "/venv/bin/python", "install", "-r", "requirements.txt", "-r", "requirements/prod.txt"}; !slices.Equal(got, want) {
		t.Errorf("%q, want %q", got, want)
	}
	got = pipInstallArgs("/tools/bin/pip", "/venv/bin/python", &Tool{Name: "pip", Project: true})
	if want := []string{"/tools/bin/pip", "--python", "/venv/bin/python", "install", "-e", "."}; !slices.Equal(got, want) {
		t.Errorf("%q, want %q", got, want)
	}
}
