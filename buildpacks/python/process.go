package python

import (
	"os"
	"path/filepath"
	"regexp"

	"github.com/slipway/slipway/buildpacks/sdk"
)

var (
	wsgiVar = regexp.MustCompile(`(?m)^(app|application)\s*(:[^=]+)?=`)
	asgiFW  = regexp.MustCompile(`(?m)^\s*(from\s+(fastapi|starlette|quart)\b|import\s+(fastapi|starlette|quart)\b)`)
)

// webProcess chooses the web process (the rule documented in README.md): gunicorn or
// uvicorn when the venv has it and an app module defines app/application (wsgi.py,
// app.py, main.py for gunicorn; asgi.py, main.py, app.py for uvicorn), else python on
// the main file (main.py, app.py, __main__.py, or the only *.py). It returns nil and why
// when nothing fits.
func webProcess(appDir, venv string) (*sdk.Process, string) {
	module := func(candidates []string, asgi bool) (string, string, bool) {
		for _, f := range candidates {
			b, err := os.ReadFile(filepath.Join(appDir, f))
			if err != nil {
				continue
			}
			if asgi != asgiFW.Match(b) && f != "asgi.py" && f != "wsgi.py" {
				continue
			}
			if m := wsgiVar.FindSubmatch(b); m != nil {
				return f[:len(f)-3], string(m[1]), true
			}
		}
		return "", "", false
	}
	if venv != "" && exists(filepath.Join(venv, "bin", "uvicorn")) {
		if mod, v, ok := module([]string{"asgi.py", "main.py", "app.py"}, true); ok {
			return &sdk.Process{Type: "web", Default: true, Command: []string{"bash", "-c", `exec uvicorn "$0" --host 0.0.0.0 --port "${PORT:-8080}"`, mod + ":" + v}},
				"uvicorn, ASGI app " + mod + ":" + v
		}
	}
	if venv != "" && exists(filepath.Join(venv, "bin", "gunicorn")) {
		if mod, v, ok := module([]string{"wsgi.py", "app.py", "main.py"}, false); ok {
			// gunicorn binds 0.0.0.0:$PORT by itself when PORT is set.
			return &sdk.Process{Type: "web", Default: true, Command: []string{"gunicorn", mod + ":" + v}},
				"gunicorn is a dependency, WSGI app " + mod + ":" + v
		}
	}
	for _, f := range []string{"main.py", "app.py", "__main__.py"} {
		if exists(filepath.Join(appDir, f)) {
			return &sdk.Process{Type: "web", Default: true, Command: []string{"python", f}}, "main file " + f
		}
	}
	if py, _ := filepath.Glob(filepath.Join(appDir, "*.py")); len(py) == 1 {
		f := filepath.Base(py[0])
		return &sdk.Process{Type: "web", Default: true, Command: []string{"python", f}}, "the only *.py file"
	}
	return nil, "no gunicorn/uvicorn app module and no main.py, app.py or __main__.py"
}
