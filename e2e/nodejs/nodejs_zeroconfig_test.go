package nodejs

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slipway/slipway/internal/e2ekit"
	"github.com/slipway/slipway/internal/npmmirror"
)

// fakeOfficial is the official Node.js site as a test sees it: down (connection refused),
// or up and listing the release but answering 404 for its files.
func fakeOfficial(t *testing.T, down bool) string {
	if down {
		return "http://127.0.0.1:" + strconv.Itoa(e2ekit.FreePort(t)) + "/dist"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/dist/index.json", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `[{"version":"v24.22.3","lts":"Krypton","files":["linux-x64"]},{"version":"v22.23.5","lts":"Jod","files":["linux-x64"]}]`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/dist"
}

// Issue "the apps people really have": each app of an ordinary shape builds with no
// configuration beyond what its README would say, runs with podman, answers HTTP and
// stops promptly on `podman stop` because the launcher, as PID 1, forwards SIGTERM.
func TestNodejsZeroConfigApps(t *testing.T) {
	e := e2ekit.NewEnv(t).ShareWork() // one unpacked build image for the package's tests; image names differ
	builder := e.NodeBuilder()
	reg := npmmirror.Start(t, npmmirror.FrontendCLI)
	buildWith := func(flags []string, name, app string, env ...string) (string, time.Duration) {
		t.Helper()
		args := []string{"build", name, "--path", app, "--builder", builder, "--env", "BP_NPM_REGISTRY=" + reg,
			"--network", "host"} // the npm mirror and the fake official site listen on 127.0.0.1
		args = append(args, flags...)
		for _, kv := range env {
			args = append(args, "--env", kv)
		}
		start := time.Now()
		out := e.MustSlipway(args...)
		return out, time.Since(start)
	}
	build := func(name, app string, env ...string) (string, time.Duration) {
		t.Helper()
		return buildWith(nil, name, app, env...)
	}
	save := func(name string) string {
		archive := filepath.Join(t.TempDir(), name+".tar")
		e.MustSlipway("save", name, "-o", archive)
		return archive
	}
	expect := func(what, out string, wants ...string) {
		t.Helper()
		for _, w := range wants {
			if !strings.Contains(out, w) {
				t.Errorf("%s lacks %q:\n%s", what, w, out)
			}
		}
	}

	// Also Paketo's launch env and label settings: BPE_DEFAULT_<NAME> reaches the process,
	// BP_IMAGE_LABELS the image config.
	t.Run("bare server.js, official site down", func(t *testing.T) {
		app := t.TempDir()
		// No SIGTERM handler: as PID 1 node would ignore podman stop.
		e2ekit.WriteFile(t, filepath.Join(app, "server.js"), `require('http').createServer((q, s) => s.end('bare node ' + process.version + ', greeting ' + process.env.GREETING + '\n')).listen(process.env.PORT)`+"\n")
		out, _ := build("bare", app, "BP_NODE_MIRROR="+fakeOfficial(t, true),
			"BPE_DEFAULT_GREETING=set at build", `BP_IMAGE_LABELS=org.example.team="web ops" org.example.tier=edge`)
		expect("build output", out, "Node.js source official skipped", "connection refused", "Node.js 24.22.3 (LTS;", "source npm", "Process web: node server.js")
		cfg, err := e2ekit.StoredImage(t, e.Store, "bare").ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if l := cfg.Config.Labels; l["org.example.team"] != "web ops" || l["org.example.tier"] != "edge" {
			t.Errorf("BP_IMAGE_LABELS not in the image's labels: %v", l)
		}
		c := e2ekit.PodmanServe(t, save("bare"), "localhost/bare")
		expect("answer", c.Get(), "bare node v24.22.3, greeting set at build")
		took, code := c.Stop()
		t.Logf("podman stop of the bare node image: %s, exit code %d", took.Round(time.Millisecond), code)
		if code != 143 {
			t.Errorf("exit code %d after podman stop, want 143 (SIGTERM reached node; 137 means it was SIGKILLed)", code)
		}
	})

	t.Run("yarn 1 without packageManager, official site answers 404", func(t *testing.T) {
		app := t.TempDir()
		src := filepath.Join(e2ekit.RepoRoot, "buildpacks", "testdata", "apps", "yarn-classic")
		for _, f := range []string{"index.js", "yarn.lock"} {
			b, err := os.ReadFile(filepath.Join(src, f))
			if err != nil {
				t.Fatal(err)
			}
			e2ekit.WriteFile(t, filepath.Join(app, f), string(b))
		}
		e2ekit.WriteFile(t, filepath.Join(app, "package.json"), `{"name":"yarn1","private":true,"main":"index.js","engines":{"node":">=16"},"dependencies":{"ms":"2.1.3"}}`)
		out, _ := build("yarn1", app, "BP_NODE_MIRROR="+fakeOfficial(t, false))
		expect("build output", out, "Node.js source official skipped", "404", "Node.js 24.22.3 (LTS; from package.json engines.node \">=16\"",
			"Installed yarn 1.22.", ": yarn install --frozen-lockfile")
		if strings.Contains(out, "corepack") {
			t.Errorf("yarn 1 went through corepack:\n%s", out)
		}
		c := e2ekit.PodmanServe(t, save("yarn1"), "localhost/yarn1")
		expect("answer", c.Get(), "ms says 1m")
	})

	// Package managers without corepack (issue item 9): pnpm named only by engines.pnpm and
	// a yarn 1 app pinning Node.js 12, which no corepack release supports, install their tool
	// from the registry (integrity-verified) and answer HTTP.
	fixtureApp := func(t *testing.T, fixture, packageJSON string) string {
		t.Helper()
		app := t.TempDir()
		src := filepath.Join(e2ekit.RepoRoot, "buildpacks", "testdata", "apps", fixture)
		entries, err := os.ReadDir(src)
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range entries {
			b, err := os.ReadFile(filepath.Join(src, en.Name()))
			if err != nil {
				t.Fatal(err)
			}
			e2ekit.WriteFile(t, filepath.Join(app, en.Name()), string(b))
		}
		e2ekit.WriteFile(t, filepath.Join(app, "package.json"), packageJSON)
		return app
	}
	t.Run("pnpm without packageManager", func(t *testing.T) {
		app := fixtureApp(t, "pnpm", `{"name":"pnpm-engines","private":true,"main":"index.js","engines":{"node":"22.x","pnpm":">=8"},"dependencies":{"ms":"2.1.3"}}`)
		out, _ := build("pnpm-engines", app, "BP_NODE_SOURCE=npm")
		expect("build output", out, "Installed pnpm 10.", ": pnpm install --frozen-lockfile")
		if strings.Contains(out, "corepack") {
			t.Errorf("pnpm went through corepack:\n%s", out)
		}
		c := e2ekit.PodmanServe(t, save("pnpm-engines"), "localhost/pnpm-engines")
		expect("answer", c.Get(), "ms says 1m")
	})

	t.Run("yarn 1 on Node.js 12", func(t *testing.T) {
		app := fixtureApp(t, "yarn-classic", `{"name":"node12","private":true,"main":"index.js","engines":{"node":"12.x"},"dependencies":{"ms":"2.1.3"}}`)
		out, _ := build("node12", app, "BP_NODE_SOURCE=npm")
		expect("build output", out, "Node.js 12.22.12", "Installed yarn 1.22.", ": yarn install --frozen-lockfile")
		if strings.Contains(out, "corepack") {
			t.Errorf("yarn went through corepack:\n%s", out)
		}
		c := e2ekit.PodmanServe(t, save("node12"), "localhost/node12")
		expect("answer", c.Get(), "ms says 1m")
	})

	// A TypeScript app compiled by the real tsc in postinstall, NODE_ENV=development set in
	// project.toml (so typescript, a dev dependency, is installed): the image runs the
	// compiled dist/server.js.
	t.Run("TypeScript compiled in postinstall, NODE_ENV in project.toml", func(t *testing.T) {
		app := t.TempDir()
		e2ekit.WriteFile(t, filepath.Join(app, "package.json"), `{"name":"ts-app","private":true,
  "scripts":{"postinstall":"tsc","start":"node dist/server.js"},
  "devDependencies":{"typescript":"5.6.3"}}`)
		e2ekit.WriteFile(t, filepath.Join(app, "tsconfig.json"), `{"compilerOptions":{"outDir":"dist","target":"es2019","module":"commonjs","strict":true},"include":["src"]}`)
		// No @types/node: the two globals the server uses are declared here.
		e2ekit.WriteFile(t, filepath.Join(app, "src", "server.ts"), `declare const require: any;
declare const process: any;
const http = require('http');
const greet = (who: string): string => 'compiled by tsc, hello ' + who;
http.createServer((_q: unknown, s: { end(b: string): void }) => s.end(greet('typescript') + '\n')).listen(process.env.PORT);
`)
		e2ekit.WriteFile(t, filepath.Join(app, "project.toml"), `[_]
schema-version = "0.2"

[[io.buildpacks.build.env]]
name = "NODE_ENV"
value = "development"
`)
		out, _ := build("ts-app", app, "BP_NODE_SOURCE=npm")
		expect("build output", out, "NODE_ENV=development at build")
		c := e2ekit.PodmanServe(t, save("ts-app"), "localhost/ts-app")
		expect("answer", c.Get(), "compiled by tsc, hello typescript")
	})

	// PID 1 for every language: a Procfile process without a SIGTERM handler (sleep) ends
	// on podman stop's SIGTERM too.
	t.Run("Procfile app stops promptly", func(t *testing.T) {
		app := t.TempDir()
		e2ekit.WriteFile(t, filepath.Join(app, "Procfile"), "web: bash -c 'echo up; exec sleep 1000'\n")
		e.MustSlipway("build", "procfile-app", "--path", app, "--builder", builder)
		c := e2ekit.PodmanServe(t, save("procfile-app"), "localhost/procfile-app")
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(c.Logs(), "up") && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
		}
		took, code := c.Stop()
		t.Logf("podman stop of the Procfile image (sleep): %s, exit code %d", took.Round(time.Millisecond), code)
		if code != 143 {
			t.Errorf("exit code %d after podman stop, want 143 (SIGTERM reached sleep; 137 means it was SIGKILLed)", code)
		}
	})

	// Node.js 26 needs libatomic.so.1, which the test run image (Debian minbase) lacks: the
	// export fails naming the file and the library instead of producing an image that dies
	// at start; SLIPWAY_SKIP_ELF_CHECK=true exports anyway.
	t.Run("a launch layer needing a library the run image lacks", func(t *testing.T) {
		app := t.TempDir()
		e2ekit.WriteFile(t, filepath.Join(app, "server.js"), "require('http').createServer((q, s) => s.end('hi')).listen(process.env.PORT)\n")
		e2ekit.WriteFile(t, filepath.Join(app, ".nvmrc"), "26\n")
		args := []string{"build", "node26", "--path", app, "--builder", builder, "--env", "BP_NPM_REGISTRY=" + reg,
			"--env", "BP_NODE_SOURCE=npm", "--network", "host"}
		out, code := e.Slipway(args...)
		if code != 62 {
			t.Fatalf("exit code %d, want 62 (export failed):\n%s", code, out)
		}
		expect("export error", out, "Current, not LTS", "/layers/slipway_nodejs/node/bin/node (layer slipway/nodejs:node) needs libatomic.so.1", "SLIPWAY_SKIP_ELF_CHECK")
		out = e.MustSlipway(append(args, "--env", "SLIPWAY_SKIP_ELF_CHECK=true")...)
		expect("build with the opt-out", out, "Successfully built image node26")
	})

	t.Run("Vue-CLI-style app in ./web, NODE_ENV=development", func(t *testing.T) {
		app := t.TempDir()
		e2ekit.WriteFile(t, filepath.Join(app, "README.md"), "the app is in web/\n")
		e2ekit.WriteFile(t, filepath.Join(app, "web", "package.json"), `{"name":"vue-style","private":true,
  "scripts":{"serve":"vue-cli-service serve","build":"vue-cli-service build","start":"vue-cli-service serve"},
  "devDependencies":{"slipway-test-frontend-cli":"1.0.0"}}`)
		env := []string{"BP_NODE_SOURCE=npm", "NODE_ENV=development", "BP_NODE_RUN_SCRIPTS=build", "BP_NODE_PROJECT_PATH=web"}
		// -v --timestamps: the per-phase times, slipway's own time and the buildpack's
		// steps, timed, go to the test log.
		out, cold := buildWith([]string{"-v", "--timestamps"}, "vue", app, env...)
		expect("cold build output", out, "NODE_ENV=development at build", "fake build: build number 1 (cold cache)")
		t.Logf("Vue-style app, cold build phases:\n%s", phaseTimes(out))
		e2ekit.WriteFile(t, filepath.Join(app, "web", "extra.js"), "module.exports = 1\n")
		out, warm := buildWith([]string{"-v", "--timestamps"}, "vue", app, env...)
		t.Logf("Vue-style app, warm build phases:\n%s", phaseTimes(out))
		expect("warm build output", out, "Restored build cache node_modules/.cache", "fake build: build number 2 (cache restored)",
			"Reusing node_modules in layer launch-modules", "Reusing Node.js")
		t.Logf("Vue-style app: cold build %s, warm build (one file changed) %s", cold.Round(time.Millisecond), warm.Round(time.Millisecond))
		archive := save("vue")
		check := e2ekit.PodmanLaunch(t, archive, "localhost/vue", "bash", "-c",
			`cd web && ls node_modules/.bin/vue-cli-service && (test -e node_modules/.cache && echo CACHE IN IMAGE || echo no cache in image); echo NODE_ENV=$NODE_ENV`)
		expect("image contents", check, "node_modules/.bin/vue-cli-service", "no cache in image", "NODE_ENV=development")
		c := e2ekit.PodmanServe(t, archive, "localhost/vue")
		expect("answer", c.Get(), "served by fake vue-cli-service, NODE_ENV=development")
		took, code := c.Stop()
		t.Logf("podman stop of the Vue-style image (npm start → vue-cli-service): %s, exit code %d", took.Round(time.Millisecond), code)
		expect("logs after podman stop", c.Logs(), "fake vue-cli-service: got SIGTERM")
		if code == 137 {
			t.Errorf("podman had to SIGKILL the container (exit 137)")
		}
	})

	t.Run("React-style build script via BP_NODE_RUN_SCRIPTS", func(t *testing.T) {
		app := t.TempDir()
		e2ekit.WriteFile(t, filepath.Join(app, "package.json"), `{"name":"react-style","private":true,
  "scripts":{"build":"vue-cli-service build","start":"node server.js"},
  "devDependencies":{"slipway-test-frontend-cli":"1.0.0"}}`)
		e2ekit.WriteFile(t, filepath.Join(app, "server.js"), `const fs = require('fs');
require('http').createServer((q, s) => s.end(fs.readFileSync('dist/index.html'))).listen(process.env.PORT);
`)
		env := []string{"BP_NODE_SOURCE=npm", "BP_NODE_RUN_SCRIPTS=build"}
		out, _ := build("react", app, env...)
		expect("first build", out, "fake build: build number 1 (cold cache)")
		out, _ = build("react", app, env...)
		expect("second build", out, "Restored build cache node_modules/.cache", "fake build: build number 2 (cache restored)")
		archive := save("react")
		check := e2ekit.PodmanLaunch(t, archive, "localhost/react", "bash", "-c",
			`(test -e node_modules/slipway-test-frontend-cli && echo DEV DEP IN IMAGE); (test -e node_modules/.cache && echo CACHE IN IMAGE); echo checked`)
		if strings.Contains(check, "IN IMAGE") || !strings.Contains(check, "checked") {
			t.Errorf("image contents: %s", check)
		}
		c := e2ekit.PodmanServe(t, archive, "localhost/react")
		expect("answer", c.Get(), "build number 2")
	})
}

// phaseTimes is the per-phase timing lines of a verbose build's output, with the buildpack's
// own step lines that say where its time went (install, package manager, scripts).
func phaseTimes(out string) string {
	var b strings.Builder
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "===> ") || strings.Contains(l, "[slipway/nodejs]   ") ||
			strings.Contains(l, " done in ") || strings.Contains(l, "in buildpack processes") || strings.Contains(l, "slipway's own time") ||
			strings.Contains(l, "cache export took") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
