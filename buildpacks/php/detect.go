package php

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// Detect passes for an app with composer.json, or index.php (in the app or its web
// root), or any *.php file in the web root (BP_PHP_WEB_DIR, else public/ when present,
// else the app); otherwise the reason names what was looked for (buildpack.md,
// Detection; shown in the no-group report).
func Detect(_ context.Context, dc sdk.DetectContext) (sdk.DetectResult, error) {
	pass := sdk.Pass(sdk.BuildPlan{PlanSections: sdk.PlanSections{
		Provides: []sdk.Provide{{Name: "php"}, {Name: "composer-packages"}},
		Requires: []sdk.Require{{Name: "php"}, {Name: "composer-packages"}},
	}})
	web := webDir(dc.AppDir, strings.TrimSpace(dc.Env.Config(dc.PlatformDir, "BP_PHP_WEB_DIR", "")))
	for _, f := range []string{"composer.json", "index.php", filepath.Join(web, "index.php")} {
		if exists(filepath.Join(dc.AppDir, f)) {
			return pass, nil
		}
	}
	if m, _ := filepath.Glob(filepath.Join(dc.AppDir, web, "*.php")); len(m) > 0 {
		return pass, nil
	}
	where := "the app"
	if web != "." {
		where = web + "/"
	}
	return sdk.Fail("slipway/php: no composer.json, no index.php and no *.php file in %s", where), nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
