package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slipway/slipway/internal/npmmirror"
)

// container is an image running detached in a throwaway podman storage, on the host
// network so the test reaches $PORT on 127.0.0.1.
type container struct {
	t    *testing.T
	base []string
	name string
	port int
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// podmanServe loads archive and starts image's default process with PORT set.
func podmanServe(t *testing.T, archive, image string) *container {
	t.Helper()
	if _, err := exec.LookPath("podman"); err != nil {
		t.Skip("podman not installed")
	}
	root, err := os.MkdirTemp("", "pod")
	if err != nil {
		t.Fatal(err)
	}
	c := &container{t: t, name: "slipway-e2e-" + strconv.Itoa(os.Getpid()) + "-" + strconv.Itoa(freePort(t)), port: freePort(t),
		base: []string{"--root", filepath.Join(root, "storage"), "--runroot", filepath.Join(root, "run"),
			"--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "none", "--runtime", "runc"}}
	t.Cleanup(func() {
		exec.Command("podman", append(c.base, "rm", "-f", "-t", "0", c.name)...).Run()
		os.RemoveAll(root)
	})
	if out, err := exec.Command("podman", append(c.base, "load", "-i", archive)...).CombinedOutput(); err != nil {
		t.Fatalf("podman load: %v\n%s", err, out)
	}
	args := append(append([]string{}, c.base...), "run", "-d", "--name", c.name, "--network", "host", "-e", fmt.Sprintf("PORT=%d", c.port), image)
	if out, err := exec.Command("podman", args...).CombinedOutput(); err != nil {
		t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return c
}

// get fetches / until the app answers (up to 30 s).
func (c *container) get() string {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", c.port))
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return string(b)
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("app did not answer on port %d: %v\nlogs:\n%s", c.port, err, c.logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (c *container) logs() string {
	out, _ := exec.Command("podman", append(c.base, "logs", c.name)...).CombinedOutput()
	return string(out)
}

// stop runs `podman stop` (SIGTERM, then SIGKILL after 10 s) and returns how long it took
// and the container's exit code: 143 when SIGTERM ended the process (by its handler or its
// default action), 137 when podman had to SIGKILL it.
func (c *container) stop() (time.Duration, int) {
	c.t.Helper()
	start := time.Now()
	if out, err := exec.Command("podman", append(c.base, "stop", "-t", "10", c.name)...).CombinedOutput(); err != nil {
		c.t.Fatalf("podman stop: %v\n%s", err, out)
	}
	took := time.Since(start)
	out, err := exec.Command("podman", append(c.base, "inspect", "--format", "{{.State.ExitCode}}", c.name)...).Output()
	if err != nil {
		c.t.Fatalf("podman inspect: %v", err)
	}
	code, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return took, code
}

// fakeOfficial is the official Node.js site as a test sees it: down (connection refused),
// or up and listing the release but answering 404 for its files.
func fakeOfficial(t *testing.T, down bool) string {
	if down {
		return "http://127.0.0.1:" + strconv.Itoa(freePort(t)) + "/dist"
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
	e := newEnv(t)
	builder := e.nodeBuilder()
	reg := npmmirror.Start(t, npmmirror.FrontendCLI)
	build := func(name, app string, env ...string) (string, time.Duration) {
		t.Helper()
		args := []string{"build", name, "--path", app, "--builder", builder, "--env", "BP_NPM_REGISTRY=" + reg,
			"--network", "host"} // the npm mirror and the fake official site listen on 127.0.0.1
		for _, kv := range env {
			args = append(args, "--env", kv)
		}
		start := time.Now()
		out := e.mustSlipway(args...)
		return out, time.Since(start)
	}
	save := func(name string) string {
		archive := filepath.Join(t.TempDir(), name+".tar")
		e.mustSlipway("save", name, "-o", archive)
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

	t.Run("bare server.js, official site down", func(t *testing.T) {
		app := t.TempDir()
		// No SIGTERM handler: as PID 1 node would ignore podman stop.
		writeFile(t, filepath.Join(app, "server.js"), `require('http').createServer((q, s) => s.end('bare node ' + process.version + '\n')).listen(process.env.PORT)`+"\n")
		out, _ := build("bare", app, "BP_NODE_MIRROR="+fakeOfficial(t, true))
		expect("build output", out, "Node.js source official skipped", "connection refused", "Node.js 24.22.3 (LTS;", "source npm", "Process web: node server.js")
		c := podmanServe(t, save("bare"), "localhost/bare")
		expect("answer", c.get(), "bare node v24.22.3")
		took, code := c.stop()
		t.Logf("podman stop of the bare node image: %s, exit code %d", took.Round(time.Millisecond), code)
		if code != 143 {
			t.Errorf("exit code %d after podman stop, want 143 (SIGTERM reached node; 137 means it was SIGKILLed)", code)
		}
	})

	t.Run("yarn 1 without packageManager, official site answers 404", func(t *testing.T) {
		app := t.TempDir()
		src := filepath.Join(repoRoot, "buildpacks", "testdata", "apps", "yarn-classic")
		for _, f := range []string{"index.js", "yarn.lock"} {
			b, err := os.ReadFile(filepath.Join(src, f))
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(app, f), string(b))
		}
		writeFile(t, filepath.Join(app, "package.json"), `{"name":"yarn1","private":true,"main":"index.js","engines":{"node":">=16"},"dependencies":{"ms":"2.1.3"}}`)
		out, _ := build("yarn1", app, "BP_NODE_MIRROR="+fakeOfficial(t, false))
		expect("build output", out, "Node.js source official skipped", "404", "Node.js 24.22.3 (LTS; from package.json engines.node \">=16\"",
			"Installed yarn 1.22.", ": yarn install --frozen-lockfile")
		if strings.Contains(out, "corepack") {
			t.Errorf("yarn 1 went through corepack:\n%s", out)
		}
		c := podmanServe(t, save("yarn1"), "localhost/yarn1")
		expect("answer", c.get(), "ms says 1m")
	})

	// PID 1 for every language: a Procfile process without a SIGTERM handler (sleep) ends
	// on podman stop's SIGTERM too.
	t.Run("Procfile app stops promptly", func(t *testing.T) {
		app := t.TempDir()
		writeFile(t, filepath.Join(app, "Procfile"), "web: bash -c 'echo up; exec sleep 1000'\n")
		e.mustSlipway("build", "procfile-app", "--path", app, "--builder", builder)
		c := podmanServe(t, save("procfile-app"), "localhost/procfile-app")
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(c.logs(), "up") && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
		}
		took, code := c.stop()
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
		writeFile(t, filepath.Join(app, "server.js"), "require('http').createServer((q, s) => s.end('hi')).listen(process.env.PORT)\n")
		writeFile(t, filepath.Join(app, ".nvmrc"), "26\n")
		args := []string{"build", "node26", "--path", app, "--builder", builder, "--env", "BP_NPM_REGISTRY=" + reg,
			"--env", "BP_NODE_SOURCE=npm", "--network", "host"}
		out, code := e.slipway(args...)
		if code != 62 {
			t.Fatalf("exit code %d, want 62 (export failed):\n%s", code, out)
		}
		expect("export error", out, "Current, not LTS", "/layers/slipway_nodejs/node/bin/node (layer slipway/nodejs:node) needs libatomic.so.1", "SLIPWAY_SKIP_ELF_CHECK")
		out = e.mustSlipway(append(args, "--env", "SLIPWAY_SKIP_ELF_CHECK=true")...)
		expect("build with the opt-out", out, "Successfully built image node26")
	})

	t.Run("Vue-CLI-style app in ./web, NODE_ENV=development", func(t *testing.T) {
		app := t.TempDir()
		writeFile(t, filepath.Join(app, "README.md"), "the app is in web/\n")
		writeFile(t, filepath.Join(app, "web", "package.json"), `{"name":"vue-style","private":true,
  "scripts":{"serve":"vue-cli-service serve","build":"vue-cli-service build","start":"vue-cli-service serve"},
  "devDependencies":{"slipway-test-frontend-cli":"1.0.0"}}`)
		env := []string{"BP_NODE_SOURCE=npm", "NODE_ENV=development", "BP_NODE_RUN_SCRIPTS=build", "BP_NODE_PROJECT_PATH=web"}
		out, cold := build("vue", app, env...)
		expect("cold build output", out, "NODE_ENV=development at build", "fake build: build number 1 (cold cache)")
		writeFile(t, filepath.Join(app, "web", "extra.js"), "module.exports = 1\n")
		out, warm := build("vue", app, env...)
		expect("warm build output", out, "Restored build cache node_modules/.cache", "fake build: build number 2 (cache restored)",
			"Reusing node_modules in layer launch-modules", "Reusing Node.js")
		t.Logf("Vue-style app: cold build %s, warm build (one file changed) %s", cold.Round(time.Millisecond), warm.Round(time.Millisecond))
		archive := save("vue")
		check := podmanLaunch(t, archive, "localhost/vue", "bash", "-c",
			`cd web && ls node_modules/.bin/vue-cli-service && (test -e node_modules/.cache && echo CACHE IN IMAGE || echo no cache in image); echo NODE_ENV=$NODE_ENV`)
		expect("image contents", check, "node_modules/.bin/vue-cli-service", "no cache in image", "NODE_ENV=development")
		c := podmanServe(t, archive, "localhost/vue")
		expect("answer", c.get(), "served by fake vue-cli-service, NODE_ENV=development")
		took, code := c.stop()
		t.Logf("podman stop of the Vue-style image (npm start → vue-cli-service): %s, exit code %d", took.Round(time.Millisecond), code)
		expect("logs after podman stop", c.logs(), "fake vue-cli-service: got SIGTERM")
		if code == 137 {
			t.Errorf("podman had to SIGKILL the container (exit 137)")
		}
	})

	t.Run("React-style build script via BP_NODE_RUN_SCRIPTS", func(t *testing.T) {
		app := t.TempDir()
		writeFile(t, filepath.Join(app, "package.json"), `{"name":"react-style","private":true,
  "scripts":{"build":"vue-cli-service build","start":"node server.js"},
  "devDependencies":{"slipway-test-frontend-cli":"1.0.0"}}`)
		writeFile(t, filepath.Join(app, "server.js"), `const fs = require('fs');
require('http').createServer((q, s) => s.end(fs.readFileSync('dist/index.html'))).listen(process.env.PORT);
`)
		env := []string{"BP_NODE_SOURCE=npm", "BP_NODE_RUN_SCRIPTS=build"}
		out, _ := build("react", app, env...)
		expect("first build", out, "fake build: build number 1 (cold cache)")
		out, _ = build("react", app, env...)
		expect("second build", out, "Restored build cache node_modules/.cache", "fake build: build number 2 (cache restored)")
		archive := save("react")
		check := podmanLaunch(t, archive, "localhost/react", "bash", "-c",
			`(test -e node_modules/slipway-test-frontend-cli && echo DEV DEP IN IMAGE); (test -e node_modules/.cache && echo CACHE IN IMAGE); echo checked`)
		if strings.Contains(check, "IN IMAGE") || !strings.Contains(check, "checked") {
			t.Errorf("image contents: %s", check)
		}
		c := podmanServe(t, archive, "localhost/react")
		expect("answer", c.get(), "build number 2")
	})
}
