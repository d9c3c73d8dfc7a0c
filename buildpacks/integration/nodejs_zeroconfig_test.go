package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway/slipway/internal/npmmirror"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// A bare server.js (no package.json) detects and runs with node; Node.js is the newest LTS.
func TestBareServerJS(t *testing.T) {
	p := newProject(t, "")
	p.env["BP_NPM_REGISTRY"] = npmmirror.Start(t)
	writeFiles(t, p.app, map[string]string{"server.js": "console.log('hi')\n"})
	md, out := p.mustBuild(order("slipway/nodejs", "slipway/procfile"))
	if len(md.Processes) != 1 || strings.Join(md.Processes[0].Command, " ") != "node server.js" {
		t.Errorf("processes = %+v", md.Processes)
	}
	if !strings.Contains(out, "(LTS;") || strings.Contains(out, "node_modules") {
		t.Errorf("output:\n%s", out)
	}
}

// yarn 1 without packageManager and a pnpm app with engines.pnpm and no packageManager
// install their tool from the registry (integrity-verified), not through corepack; so does
// an app pinning Node.js 12, which no corepack release supports.
func TestPackageManagersWithoutCorepack(t *testing.T) {
	reg := npmmirror.Start(t)
	cases := []struct {
		name, app string
		pkg       string
		want      []string
	}{
		{"yarn 1 without packageManager", "yarn-classic",
			`{"name":"y","private":true,"main":"index.js","dependencies":{"ms":"2.1.3"}}`,
			[]string{"Installed yarn 1.22.", "yarn.lock v1 (yarn classic), from the npm registry", ": yarn install --frozen-lockfile"}},
		{"pnpm with engines.pnpm", "pnpm",
			`{"name":"p","private":true,"main":"index.js","engines":{"pnpm":">=8"},"dependencies":{"ms":"2.1.3"}}`,
			[]string{"Installed pnpm 10.", ": pnpm install --frozen-lockfile"}},
		{"yarn 1 on Node.js 12", "yarn-classic",
			`{"name":"y","private":true,"main":"index.js","engines":{"node":"12.x"},"dependencies":{"ms":"2.1.3"}}`,
			[]string{"Node.js 12.22.12", "Installed yarn 1.22.", ": yarn install --frozen-lockfile"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newProject(t, tc.app)
			p.env["BP_NPM_REGISTRY"] = reg
			writeFiles(t, p.app, map[string]string{"package.json": tc.pkg})
			_, out := p.mustBuild(order("slipway/nodejs"))
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(out, "corepack") {
				t.Errorf("used corepack:\n%s", out)
			}
			if _, err := os.Stat(filepath.Join(p.app, "node_modules", "ms", "package.json")); err != nil {
				t.Errorf("ms not installed: %v", err)
			}
		})
	}
}

// NODE_ENV=development at build keeps dev dependencies (a start script needing
// vue-cli-service) and NODE_ENV at launch; BP_NODE_RUN_SCRIPTS runs the build, whose
// node_modules/.cache survives into the next build through a cache-only layer and is never
// in a launch layer; a postinstall compiling TypeScript runs in the project directory.
func TestDevDependenciesRunScriptsAndBuildCache(t *testing.T) {
	reg := npmmirror.Start(t, npmmirror.FrontendCLI)
	p := newProject(t, "")
	p.env["BP_NPM_REGISTRY"] = reg
	p.env["NODE_ENV"] = "development"
	p.env["BP_NODE_RUN_SCRIPTS"] = "build"
	p.env["BP_NODE_PROJECT_PATH"] = "web"
	writeFiles(t, p.app, map[string]string{
		"web/package.json": `{"name":"vue-style","private":true,
  "scripts":{"build":"vue-cli-service build","start":"vue-cli-service serve","postinstall":"fake-tsc"},
  "devDependencies":{"slipway-test-frontend-cli":"1.0.0"}}`,
		"web/src/index.ts": "module.exports = 1\n",
	})
	md, out := p.mustBuild(order("slipway/nodejs"))
	for _, w := range []string{"NODE_ENV=development at build", "fake-tsc: compiled src to dist", "fake build: build number 1 (cold cache)"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if len(md.Processes) != 1 || strings.Join(md.Processes[0].Command, " ") != "npm start" || md.Processes[0].WorkingDir != filepath.Join(p.app, "web") {
		t.Errorf("processes = %+v", md.Processes)
	}
	bp := filepath.Join(p.layers, "slipway_nodejs")
	if _, err := os.Stat(filepath.Join(bp, "launch-modules", "node_modules", ".bin", "vue-cli-service")); err != nil {
		t.Errorf("dev dependency not in launch-modules: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(bp, "node", "env.launch", "NODE_ENV.default")); err != nil || string(b) != "development" {
		t.Errorf("NODE_ENV launch default = %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(p.app, "web", "dist", "index.js")); err != nil {
		t.Errorf("postinstall output missing: %v", err)
	}
	if _, err := os.Stat(filepath.Join(bp, "launch-modules", "node_modules", ".cache")); !os.IsNotExist(err) {
		t.Errorf("node_modules/.cache left in a launch layer: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(bp, "build-cache.toml")); err != nil || !strings.Contains(string(b), "cache = true") || strings.Contains(string(b), "launch = true") {
		t.Errorf("build-cache.toml = %q, %v", b, err)
	}
	// The next build (the lifecycle keeps cache layers) sees the cache.
	_, out = p.mustBuild(order("slipway/nodejs"))
	for _, w := range []string{"Restored build cache node_modules/.cache", "fake build: build number 2 (cache restored)", "Reusing node_modules in layer launch-modules"} {
		if !strings.Contains(out, w) {
			t.Errorf("rebuild output lacks %q:\n%s", w, out)
		}
	}
	// The dev server starts from the launch layers.
	node := filepath.Join(bp, "node", "bin", "node")
	srv := exec.Command(node, filepath.Join(bp, "launch-modules", "node_modules", ".bin", "vue-cli-service"), "build")
	srv.Dir = filepath.Join(p.app, "web")
	if b, err := srv.CombinedOutput(); err != nil || !strings.Contains(string(b), "fake build") {
		t.Errorf("vue-cli-service from the launch layer: %v\n%s", err, b)
	}
}

// A named script that package.json lacks fails the build, naming it.
func TestRunScriptsMissing(t *testing.T) {
	p := newProject(t, "")
	p.env["BP_NPM_REGISTRY"] = npmmirror.Start(t)
	p.env["BP_NODE_RUN_SCRIPTS"] = "build,lint"
	writeFiles(t, p.app, map[string]string{"package.json": `{"name":"x","scripts":{"build":"node -e 1"}}`, "index.js": ""})
	_, out, err := p.build(order("slipway/nodejs"))
	if err == nil || !strings.Contains(out, `BP_NODE_RUN_SCRIPTS names script "lint"`) {
		t.Errorf("err = %v\n%s", err, out)
	}
}
