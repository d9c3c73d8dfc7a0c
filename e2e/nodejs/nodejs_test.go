package nodejs

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipway/slipway/internal/e2ekit"
	"github.com/slipway/slipway/internal/npmmirror"
)

// The flow: build the express app with our Node.js buildpack in the sandbox, run it
// with podman and fetch a page; edit a source file, rebuild: only the app layer changes and
// node_modules is not reinstalled.
func TestNodejsExpressApp(t *testing.T) {
	e := e2ekit.NewEnv(t).ShareWork() // one unpacked build image for the package's tests; image names differ
	builder := e.NodeBuilder()
	reg := npmmirror.Start(t)
	appDir := filepath.Join(t.TempDir(), "app")
	if out, err := exec.Command("cp", "-a", filepath.Join(e2ekit.RepoRoot, "buildpacks", "testdata", "apps", "npm-express"), appDir).CombinedOutput(); err != nil {
		t.Fatalf("copy app: %v\n%s", err, out)
	}
	args := []string{"build", "express", "--path", appDir, "--builder", builder,
		"--env", "BP_NODE_SOURCE=npm", "--env", "BP_NPM_REGISTRY=" + reg,
		"--network", "host"} // the npm mirror listens on the host's 127.0.0.1
	start := time.Now()
	out := e.MustSlipway(args...)
	t.Logf("cold build: %s", time.Since(start).Round(time.Millisecond))
	for _, want := range []string{"Installing Node.js 22.", "Installing node_modules into layer launch-modules", "Successfully built image express"} {
		if !strings.Contains(out, want) {
			t.Errorf("build output lacks %q:\n%s", want, out)
		}
	}
	first := e2ekit.ImageLayers(t, e.Store, "express")

	archive := filepath.Join(t.TempDir(), "express.tar")
	e.MustSlipway("save", "express", "-o", archive)
	got := e2ekit.PodmanLaunch(t, archive, "localhost/express", "bash", "-c",
		`node server.js & pid=$!; rc=1; for i in 1 2 3 4 5 6 7 8 9 10; do sleep 0.5; if node -e "require('http').get('http://127.0.0.1:'+process.env.PORT,r=>r.pipe(process.stdout)).on('error',()=>process.exit(1))"; then rc=0; break; fi; done; kill $pid; exit $rc`)
	for _, want := range []string{"hello from express on node v22.", "built with dev deps: true", "dev dep at launch: absent"} {
		if !strings.Contains(got, want) {
			t.Errorf("app answered %q, want %q", got, want)
		}
	}

	e2ekit.WriteFile(t, filepath.Join(appDir, "extra.js"), "module.exports = 2\n")
	start = time.Now()
	out = e.MustSlipway(args...)
	t.Logf("rebuild after a source edit: %s", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(out, "Reusing node_modules in layer launch-modules") || strings.Contains(out, "npm ci") {
		t.Errorf("rebuild reinstalled node_modules:\n%s", out)
	}
	second := e2ekit.ImageLayers(t, e.Store, "express")
	if len(first) != len(second) {
		t.Fatalf("layer count %d → %d", len(first), len(second))
	}
	var changed []int
	for i := range first {
		if first[i] != second[i] {
			changed = append(changed, i)
		}
	}
	// Only the app layer (after the buildpack and SBOM layers, before launcher/config) changes.
	if len(changed) != 1 {
		t.Fatalf("changed layers %v of %d; want exactly the app layer", changed, len(first))
	}
	md := e2ekit.LayerMetadata(t, e.Store, "express")
	if len(md.App) == 0 || e2ekit.DiffIDAt(t, e.Store, "express", changed[0]) != md.App[len(md.App)-1].SHA {
		t.Errorf("layer %d changed, but the app layer is %v", changed[0], md.App)
	}
}

// yarn (classic and berry, through corepack) and pnpm apps build in the sandbox with the
// package manager their lockfile names, and the images answer HTTP.
func TestNodejsYarnAndPnpmApps(t *testing.T) {
	e := e2ekit.NewEnv(t).ShareWork() // one unpacked build image for the package's tests; image names differ
	builder := e.NodeBuilder()
	reg := npmmirror.Start(t)
	cases := []struct {
		app, pm string
		env     []string
	}{
		// yarn 1 comes from the registry's yarn package, verified by integrity, no corepack.
		{"yarn-classic", ": yarn install --frozen-lockfile", nil},
		{"yarn-berry", "corepack yarn", nil},
		// pnpm pinned by packageManager: through corepack when it can verify the download,
		// else (as against this mirror) the registry's pnpm of that version, integrity-verified.
		{"pnpm", "using pnpm v9.15.9", nil},
	}
	for _, tc := range cases {
		t.Run(tc.app, func(t *testing.T) {
			args := []string{"build", tc.app, "--path", filepath.Join(e2ekit.RepoRoot, "buildpacks", "testdata", "apps", tc.app),
				"--builder", builder, "--env", "BP_NODE_SOURCE=npm", "--env", "BP_NPM_REGISTRY=" + reg,
				"--network", "host"} // the npm mirror listens on the host's 127.0.0.1
			for _, kv := range tc.env {
				args = append(args, "--env", kv)
			}
			out := e.MustSlipway(args...)
			if !strings.Contains(out, tc.pm) {
				t.Errorf("build did not use %q:\n%s", tc.pm, out)
			}
			archive := filepath.Join(t.TempDir(), tc.app+".tar")
			e.MustSlipway("save", tc.app, "-o", archive)
			got := e2ekit.PodmanLaunch(t, archive, "localhost/"+tc.app, "bash", "-c",
				`node index.js & pid=$!; rc=1; for i in 1 2 3 4 5 6 7 8 9 10; do sleep 0.5; if node -e "require('http').get('http://127.0.0.1:'+process.env.PORT,r=>r.pipe(process.stdout)).on('error',()=>process.exit(1))"; then rc=0; break; fi; done; kill $pid; exit $rc`)
			if !strings.Contains(got, "ms says 1m") {
				t.Errorf("%s answered %q", tc.app, got)
			}
		})
	}
}
