package golang

import (
	"context"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// Detect passes when the app has go.mod, or *.go files of package main at its root (built
// as a single-module program). Otherwise it fails with a reason line the no-group report
// shows (buildpack.md, Detection).
func Detect(_ context.Context, dc sdk.DetectContext) (sdk.DetectResult, error) {
	plan := sdk.BuildPlan{PlanSections: sdk.PlanSections{
		Provides: []sdk.Provide{{Name: "go"}},
		Requires: []sdk.Require{{Name: "go"}},
	}}
	if exists(filepath.Join(dc.AppDir, "go.mod")) {
		return sdk.Pass(plan), nil
	}
	pkgs := rootPackages(dc.AppDir)
	if len(pkgs) == 0 {
		return sdk.Fail("slipway/go: no go.mod and no *.go files in the app directory"), nil
	}
	if pkgs["main"] {
		return sdk.Pass(plan), nil
	}
	var names []string
	for n := range pkgs {
		names = append(names, n)
	}
	sort.Strings(names)
	return sdk.Fail("slipway/go: no go.mod, and the *.go files at the app root are package %s, not main; add a go.mod to build packages elsewhere", strings.Join(names, ", ")), nil
}

// rootPackages returns the package names of the non-test *.go files in dir.
func rootPackages(dir string) map[string]bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	out := map[string]bool{}
	fset := token.NewFileSet()
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.PackageClauseOnly)
		if err != nil {
			continue
		}
		out[f.Name.Name] = true
	}
	return out
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
