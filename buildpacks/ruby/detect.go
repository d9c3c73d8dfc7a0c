package ruby

import (
	"context"
	"os"
	"path/filepath"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// Detect passes for an app with a Gemfile (or gems.rb, Bundler's other name for it);
// otherwise the reason names what was looked for (buildpack.md, Detection; shown in the
// no-group report).
func Detect(_ context.Context, dc sdk.DetectContext) (sdk.DetectResult, error) {
	for _, f := range gemfileNames {
		if exists(filepath.Join(dc.AppDir, f)) {
			return sdk.Pass(sdk.BuildPlan{PlanSections: sdk.PlanSections{
				Provides: []sdk.Provide{{Name: "ruby"}, {Name: "gems"}},
				Requires: []sdk.Require{{Name: "ruby"}, {Name: "gems"}},
			}}), nil
		}
	}
	return sdk.Fail("slipway/ruby: no Gemfile (nor gems.rb) in the app"), nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
