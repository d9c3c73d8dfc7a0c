package nodejs

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// With package.json, detection offers node-static-build as an [[or]] alternative for
// slipway/web-server (buildpack.md, Order Resolution); BP_WEB_SERVER without package.json
// is a static site.
func TestDetectStaticBuild(t *testing.T) {
	app := t.TempDir()
	os.WriteFile(filepath.Join(app, "package.json"), []byte(`{"scripts":{"build":"x"}}`), 0o644)
	res, err := Detect(context.Background(), sdk.DetectContext{AppDir: app, PlatformDir: t.TempDir(), Env: sdk.Environ{}})
	if err != nil || !res.Pass {
		t.Fatalf("pass %v err %v", res.Pass, err)
	}
	for _, p := range res.Plan.Provides {
		if p.Name == PlanStaticBuild {
			t.Errorf("the primary plan provides %s: a Node.js group without web-server would fail", PlanStaticBuild)
		}
	}
	if len(res.Plan.Or) != 1 || res.Plan.Or[0].Provides[len(res.Plan.Or[0].Provides)-1].Name != PlanStaticBuild {
		t.Errorf("or alternatives %+v", res.Plan.Or)
	}

	static := t.TempDir()
	os.WriteFile(filepath.Join(static, "index.js"), []byte("x"), 0o644)
	res, err = Detect(context.Background(), sdk.DetectContext{AppDir: static, PlatformDir: t.TempDir(), Env: sdk.Environ{"BP_WEB_SERVER": "nginx"}})
	if err != nil || res.Pass || !strings.Contains(res.Reason, "static site") {
		t.Fatalf("pass %v err %v reason %q", res.Pass, err, res.Reason)
	}
}

// A build for slipway/web-server runs the build script but leaves Node.js, node_modules
// and the web process out of the image.
func TestBuildStatic(t *testing.T) {
	reg := fakeNPM(t, false, "22.23.3", "23.1.0")
	app, layers := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(app, "package.json"), []byte(`{"scripts":{"build":"node build.js","start":"node server.js"}}`), 0o644)
	for _, static := range []bool{true, false} {
		var log bytes.Buffer
		bc := sdk.BuildContext{AppDir: app, PlatformDir: t.TempDir(), Layers: sdk.Layers{Path: layers}, Log: sdk.NewLogger(&log),
			Target: sdk.Target{Arch: "amd64"},
			Env:    sdk.Environ{"BP_NODE_SOURCE": "npm", "BP_NPM_REGISTRY": reg, "PATH": os.Getenv("PATH"), "HOME": t.TempDir()}}
		if static {
			bc.Plan.Entries = []sdk.Require{{Name: "node"}, {Name: "node_modules"}, {Name: PlanStaticBuild}}
		}
		res, err := Build(context.Background(), bc)
		if err != nil {
			t.Fatalf("static=%v: %v\n%s", static, err, log.String())
		}
		nodeToml, _ := os.ReadFile(filepath.Join(layers, layerNode+".toml"))
		_, launchModules := os.Stat(filepath.Join(layers, layerLaunchModules+".toml"))
		if static {
			if strings.Contains(string(nodeToml), "launch = true") || launchModules == nil || len(res.Launch.Processes) != 0 {
				t.Errorf("static build: node.toml\n%s\nlaunch-modules present: %v, processes %+v\n%s", nodeToml, launchModules == nil, res.Launch.Processes, log.String())
			}
			if !strings.Contains(log.String(), `Running npm script "build"`) {
				t.Errorf("the build script did not run:\n%s", log.String())
			}
			if _, err := os.Lstat(filepath.Join(app, "node_modules")); err == nil {
				t.Errorf("node_modules left in the app")
			}
			continue
		}
		if !strings.Contains(string(nodeToml), "launch = true") || len(res.Launch.Processes) != 1 {
			t.Errorf("the same app without web-server: node.toml\n%s\nprocesses %+v", nodeToml, res.Launch.Processes)
		}
	}
}
