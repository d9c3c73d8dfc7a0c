package nodejs

import (
	"context"
	"path/filepath"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// Detect passes when the app has a package.json; an unparsable package.json is an error
// (exit 1) naming the file and position, so the no-group report shows it (
// buildpack.md, Detection; platform.md, detector). It provides and requires "node" so later buildpacks can require it.
func Detect(_ context.Context, dc sdk.DetectContext) (sdk.DetectResult, error) {
	if !exists(filepath.Join(dc.AppDir, "package.json")) {
		return sdk.Fail("slipway/nodejs: no package.json in the app directory; add one to build a Node.js app"), nil
	}
	if _, err := ReadPackageJSON(dc.AppDir); err != nil {
		return sdk.DetectResult{}, err
	}
	return sdk.Pass(sdk.BuildPlan{PlanSections: sdk.PlanSections{
		Provides: []sdk.Provide{{Name: "node"}, {Name: "node_modules"}},
		Requires: []sdk.Require{{Name: "node"}, {Name: "node_modules"}},
	}}), nil
}
