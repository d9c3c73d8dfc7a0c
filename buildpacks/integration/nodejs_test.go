package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway/slipway/internal/npmmirror"
)

// The main flow: an express app with package-lock.json, a build script and a dev
// dependency; rebuilt unchanged, node_modules is reused without reinstalling.
// buildpack.md, Layer Content Metadata (TOML); buildpack.md, Layer Types (layer types and metadata), buildpack.md, launch.toml (TOML) (processes).
func TestNPMExpressBuildAndReuse(t *testing.T) {
	p := newProject(t, "npm-express")
	p.env["BP_NPM_REGISTRY"] = npmmirror.Start(t)
	md, out := p.mustBuild(order("slipway/nodejs", "slipway/procfile"))
	for _, want := range []string{"Installing Node.js 22.", "npm ci", "Installing node_modules into layer build-modules",
		"Installing node_modules into layer launch-modules", `Running npm script "build"`} {
		if !strings.Contains(out, want) {
			t.Errorf("first build output lacks %q:\n%s", want, out)
		}
	}
	if md.BuildpackDefaultProcessType != "web" || len(md.Processes) != 1 || strings.Join(md.Processes[0].Command, " ") != "node server.js" {
		t.Errorf("processes = %+v default %q", md.Processes, md.BuildpackDefaultProcessType)
	}
	bp := filepath.Join(p.layers, "slipway_nodejs")
	node := filepath.Join(bp, "node", "bin", "node")
	if v, err := exec.Command(node, "--version").Output(); err != nil || !strings.HasPrefix(string(v), "v22.") {
		t.Errorf("node --version = %q, %v", v, err)
	}
	for _, f := range []string{"node.toml", "launch-modules.toml", "build-modules.toml", "pm-cache.toml", "node.sbom.cdx.json"} {
		if _, err := os.Stat(filepath.Join(bp, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(bp, "launch-modules.toml")); !strings.Contains(string(b), "launch = true") || !strings.Contains(string(b), "cache = true") {
		t.Errorf("launch-modules.toml:\n%s", b)
	}
	// The build script ran with dev dependencies; the launch modules have none.
	if b, err := os.ReadFile(filepath.Join(p.app, "built.txt")); err != nil || !strings.Contains(string(b), "true") {
		t.Errorf("built.txt = %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(bp, "launch-modules", "node_modules", "is-number")); !os.IsNotExist(err) {
		t.Errorf("dev dependency is-number in launch-modules: %v", err)
	}
	if _, err := os.Stat(filepath.Join(p.app, "node_modules", "express", "package.json")); err != nil {
		t.Errorf("app node_modules link does not reach express: %v", err)
	}
	// The app runs with the installed runtime and modules.
	srv := exec.Command(node, "-e", `process.env.PORT=0; require('./server.js'); setTimeout(()=>process.exit(0), 300)`)
	srv.Dir = p.app
	if b, err := srv.CombinedOutput(); err != nil || !strings.Contains(string(b), "listening on") {
		t.Errorf("server start: %v\n%s", err, b)
	}

	expressPkg := filepath.Join(bp, "launch-modules", "node_modules", "express", "package.json")
	before, err := os.Stat(expressPkg)
	if err != nil {
		t.Fatal(err)
	}
	nodeBefore, _ := os.Stat(node)
	// Editing a source file does not touch the dependency layers.
	if err := os.WriteFile(filepath.Join(p.app, "extra.js"), []byte("module.exports = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, out = p.mustBuild(order("slipway/nodejs", "slipway/procfile"))
	for _, want := range []string{"Reusing Node.js 22.", "Reusing node_modules in layer build-modules", "Reusing node_modules in layer launch-modules"} {
		if !strings.Contains(out, want) {
			t.Errorf("rebuild output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "npm ci") {
		t.Errorf("rebuild ran npm ci:\n%s", out)
	}
	after, err := os.Stat(expressPkg)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) || !before.ModTime().Equal(after.ModTime()) {
		t.Errorf("launch-modules rewritten on rebuild")
	}
	if nodeAfter, _ := os.Stat(node); !os.SameFile(nodeBefore, nodeAfter) {
		t.Errorf("node layer rewritten on rebuild")
	}

	// Changing a dependency reinstalls.
	lock, _ := os.ReadFile(filepath.Join(p.app, "package-lock.json"))
	os.WriteFile(filepath.Join(p.app, "package-lock.json"), append(lock, '\n'), 0o644)
	_, out = p.mustBuild(order("slipway/nodejs"))
	if !strings.Contains(out, "Installing node_modules into layer launch-modules") {
		t.Errorf("lockfile change did not reinstall:\n%s", out)
	}
}

// yarn classic (from the registry), yarn berry and pnpm (pinned by packageManager: through
// corepack, or from the registry when corepack cannot verify it — the test mirror's metadata
// has no signatures), chosen by lockfile, fetched from the configured registry.
func TestPackageManagers(t *testing.T) {
	reg := npmmirror.Start(t)
	cases := []struct {
		app, want string
		env       map[string]string
	}{
		// yarn 1 comes from the registry's yarn package, verified by integrity, not corepack.
		{"yarn-classic", ": yarn install --frozen-lockfile", nil},
		{"yarn-berry", "corepack yarn workspaces focus --all --production", nil},
		{"pnpm", "using pnpm v9.15.9", nil},
	}
	for _, tc := range cases {
		t.Run(tc.app, func(t *testing.T) {
			p := newProject(t, tc.app)
			p.env["BP_NPM_REGISTRY"] = reg
			for k, v := range tc.env {
				p.env[k] = v
			}
			md, out := p.mustBuild(order("slipway/nodejs"))
			if !strings.Contains(out, tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, out)
			}
			if len(md.Processes) != 1 || strings.Join(md.Processes[0].Command, " ") != "node index.js" {
				t.Errorf("processes = %+v", md.Processes)
			}
			if _, err := os.Stat(filepath.Join(p.app, "node_modules", "ms", "package.json")); err != nil {
				t.Errorf("ms not installed: %v", err)
			}
		})
	}
}

// When corepack cannot verify the pinned pnpm (here: it trusts no key the registry signed
// with), pnpm@9.15.9 comes from the registry, verified by dist.integrity, and a rebuild does
// not ask corepack again. A packageManager hash that does not match the download is refused.
func TestPnpmCorepackFallback(t *testing.T) {
	reg := npmmirror.Start(t)
	p := newProject(t, "pnpm")
	p.env["BP_NPM_REGISTRY"] = reg
	p.env["COREPACK_INTEGRITY_KEYS"] = `{"npm":[{"expires":null,"keyid":"SHA256:not-npm","keytype":"ecdsa-sha2-nistp256","scheme":"ecdsa-sha2-nistp256","key":"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE1Olb3zMAFFxXKHiIkQO5cJ3Yhl5i6UPp+IhuteBJbuHcA5UogKo0EWtlWwW6KSaKoTNEYL7JlCQiVnkhBktUgg=="}]}`
	_, out := p.mustBuild(order("slipway/nodejs"))
	for _, w := range []string{"Installed pnpm 9.15.9 (packageManager pnpm@9.15.9, from the npm registry because corepack could not verify or fetch it (",
		": pnpm install --frozen-lockfile", "using pnpm v9.15.9"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if _, err := os.Stat(filepath.Join(p.app, "node_modules", "ms", "package.json")); err != nil {
		t.Errorf("ms not installed: %v", err)
	}
	os.RemoveAll(filepath.Join(p.app, "node_modules"))
	_, out = p.mustBuild(order("slipway/nodejs"))
	if !strings.Contains(out, "Reusing pnpm 9.15.9 (packageManager pnpm@9.15.9, from the npm registry because corepack could not provide it in an earlier build") {
		t.Errorf("rebuild asked corepack again:\n%s", out)
	}

	bad := newProject(t, "pnpm")
	bad.env["BP_NPM_REGISTRY"] = reg
	writeFiles(t, bad.app, map[string]string{"package.json": `{"name":"p","private":true,"main":"index.js","packageManager":"pnpm@9.15.9+sha512.` + strings.Repeat("ab", 64) + `","dependencies":{"ms":"2.1.3"}}`})
	_, out, err := bad.build(order("slipway/nodejs"))
	if err == nil || !strings.Contains(out, "corepack refused pnpm@9.15.9+sha512.abab") || !strings.Contains(out, "Mismatch hashes. Expected") {
		t.Errorf("a wrong packageManager hash was not refused: %v\n%s", err, out)
	}
	if strings.Contains(out, "Installed pnpm") {
		t.Errorf("fell back to the registry after a hash mismatch:\n%s", out)
	}
}
