package nodejs

import (
	"context"
	"path/filepath"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// entryPoints are the files an app without package.json is run from, in this order (the
// names other Node.js buildpacks look for).
var entryPoints = []string{"server.js", "app.js", "main.js", "index.js"}

// Detect passes when the project directory (the app, or BP_NODE_PROJECT_PATH in it) has a
// package.json, a BP_LAUNCHPOINT file or one of server.js, app.js, main.js, index.js. An
// unparsable package.json or configuration is an error (exit 1) naming the file and
// position, so the no-group report shows it (buildpack.md, Detection). It provides and
// requires "node" so later buildpacks can require it. With package.json, an [[or]]
// alternative also provides PlanStaticBuild, which slipway/web-server requires to serve
// the build output: only a group holding it picks that alternative (buildpack.md, Order
// Resolution). BP_WEB_SERVER without package.json is a static site, not a Node.js app.
func Detect(_ context.Context, dc sdk.DetectContext) (sdk.DetectResult, error) {
	cfg, err := ReadConfig(dc.Env, dc.PlatformDir)
	if err != nil {
		return sdk.DetectResult{}, err
	}
	dir, err := cfg.Dir(dc.AppDir)
	if err != nil {
		return sdk.DetectResult{}, err
	}
	provides := []sdk.Provide{{Name: "node"}}
	requires := []sdk.Require{{Name: "node"}}
	switch {
	case exists(filepath.Join(dir, "package.json")):
		if _, err := ReadPackageJSON(dir); err != nil {
			return sdk.DetectResult{}, err
		}
		provides = append(provides, sdk.Provide{Name: "node_modules"})
		requires = append(requires, sdk.Require{Name: "node_modules"})
		static := sdk.PlanSections{Provides: append(append([]sdk.Provide(nil), provides...), sdk.Provide{Name: PlanStaticBuild}), Requires: requires}
		return sdk.Pass(sdk.BuildPlan{PlanSections: sdk.PlanSections{Provides: provides, Requires: requires}, Or: []sdk.PlanSections{static}}), nil
	case strings.TrimSpace(dc.Env.Config(dc.PlatformDir, "BP_WEB_SERVER", "")) != "":
		return sdk.Fail("slipway/nodejs: BP_WEB_SERVER is set and %s has no package.json: a static site for slipway/web-server", rel(dc.AppDir, dir)), nil
	case cfg.Launchpoint != "" && exists(filepath.Join(dir, cfg.Launchpoint)):
	case firstExisting(dir, entryPoints) != "":
	default:
		return sdk.Fail("slipway/nodejs: no package.json, server.js, app.js, main.js or index.js in %s; add one (or set BP_LAUNCHPOINT / BP_NODE_PROJECT_PATH)", rel(dc.AppDir, dir)), nil
	}
	return sdk.Pass(sdk.BuildPlan{PlanSections: sdk.PlanSections{Provides: provides, Requires: requires}}), nil
}

// PlanStaticBuild is the build plan entry slipway/web-server requires when it serves the
// app's build output: the build scripts run, but Node.js, node_modules and the web
// process stay out of the image.
const PlanStaticBuild = "node-static-build"

// firstExisting returns the first of names present in dir, or "".
func firstExisting(dir string, names []string) string {
	for _, n := range names {
		if exists(filepath.Join(dir, n)) {
			return n
		}
	}
	return ""
}

// rel names dir for messages: "the app directory" or its path inside the app.
func rel(appDir, dir string) string {
	if r, err := filepath.Rel(appDir, dir); err == nil && r != "." {
		return "the app's " + r + " directory"
	}
	return "the app directory"
}
