package python

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// markers are the files that make an app a Python app, in the order reported.
var markers = []string{"requirements.txt", "setup.py", "setup.cfg", "pyproject.toml", "Pipfile", "poetry.lock", "uv.lock", ".python-version", "runtime.txt"}

var procfilePython = regexp.MustCompile(`(?m)^[A-Za-z0-9._-]+:\s*(\S*/)?(python[0-9.]*|gunicorn|uvicorn|flask|django-admin)\b`)

// Detect passes for an app with one of the markers, or with *.py files and a Procfile
// whose command runs python; otherwise the reason names what was looked for
// (buildpack.md, Detection; shown in the no-group report).
func Detect(_ context.Context, dc sdk.DetectContext) (sdk.DetectResult, error) {
	pass := sdk.Pass(sdk.BuildPlan{PlanSections: sdk.PlanSections{
		Provides: []sdk.Provide{{Name: "cpython"}, {Name: "site-packages"}},
		Requires: []sdk.Require{{Name: "cpython"}, {Name: "site-packages"}},
	}})
	for _, m := range markers {
		if exists(filepath.Join(dc.AppDir, m)) {
			return pass, nil
		}
	}
	py, _ := filepath.Glob(filepath.Join(dc.AppDir, "*.py"))
	if len(py) > 0 {
		if b, err := os.ReadFile(filepath.Join(dc.AppDir, "Procfile")); err == nil && procfilePython.Match(b) {
			return pass, nil
		}
		return sdk.Fail("slipway/python: found %s but no %s, and no Procfile that runs python; add a requirements.txt (it may be empty)", filepath.Base(py[0]), strings.Join(markers, ", ")), nil
	}
	return sdk.Fail("slipway/python: none of %s, and no *.py file with a Procfile that runs python", strings.Join(markers, ", ")), nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
