package classic

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slipway/slipway/imagestore"
	"github.com/slipway/slipway/inspect"
	"github.com/slipway/slipway/internal/e2ekit"
	"github.com/slipway/slipway/internal/npmmirror"
)

func classicBP(name string) string {
	return filepath.Join(e2ekit.RepoRoot, "e2e", "testdata", "buildpacks", "classic-"+name)
}

// Heroku's buildpack API run unmodified: detect names the framework, compile's CACHE_DIR
// survives between builds (the counter reaches 2), ENV_DIR holds --env values, export
// reaches the next buildpack, release gives processes and config vars, and .profile.d runs
// at launch with HOME = the app dir.
func TestClassicHerokuBuildpacks(t *testing.T) {
	e := e2ekit.NewEnv(t)
	dir := t.TempDir()
	e2ekit.WriteFile(t, filepath.Join(dir, "counter.txt"), "count me\n")
	args := []string{"build", "classic", "--path", dir, "--builder", e.Builder,
		"--buildpack", classicBP("counter"), "--buildpack", classicBP("chained"), "--env", "GREETING=hi",
		"--env", "SOURCE_VERSION=0123abcd"}
	out := e.MustSlipway(args...)
	for _, want := range []string{
		"-----> Counter app detected (classic/classic-counter@sha256-",
		"-----> Counting builds in CACHE_DIR", "build number 1",
		"GREETING=hi (not in the environment: unset)",
		"STACK=debian-12 SOURCE_VERSION=0123abcd",
		"writes outside the app, cache and env dirs are refused",
		"COUNTER_HOME=/workspace/.counter",
		"addons are Heroku-provisioned services",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("first build output lacks %q:\n%s", want, out)
		}
	}
	if !regexp.MustCompile(`(?m)^classic/classic-counter sha256-[0-9a-f]{12}$`).MatchString(out) {
		t.Errorf("detect result does not show id and version:\n%s", out)
	}
	out = e.MustSlipway(args...)
	if !strings.Contains(out, "build number 2") {
		t.Errorf("second build did not see CACHE_DIR of the first:\n%s", out)
	}

	s, err := imagestore.Open(e.Store)
	if err != nil {
		t.Fatal(err)
	}
	img, err := s.Image("classic")
	if err != nil {
		t.Fatal(err)
	}
	info, err := inspect.Read(img)
	if err != nil {
		t.Fatal(err)
	}
	if info.DefaultProcess != "web" || len(info.Buildpacks) != 2 || info.Buildpacks[0].ID != "classic/classic-counter" {
		t.Errorf("inspect: default %q buildpacks %+v", info.DefaultProcess, info.Buildpacks)
	}

	archive := filepath.Join(t.TempDir(), "classic.tar")
	e.MustSlipway("save", "classic", "-o", archive)
	got := e2ekit.PodmanRun(t, archive, "localhost/classic")
	if want := "counter=2 greeting=hi release=from-release profile=from-profile-d home=/workspace"; !strings.Contains(got, want) {
		t.Errorf("web process printed %q, want %q", got, want)
	}
	got = e2ekit.PodmanExec(t, archive, "localhost/classic", "/cnb/process/chained")
	if want := "chained saw COUNTER_HOME=/workspace/.counter count=2"; !strings.Contains(got, want) {
		t.Errorf("chained process printed %q, want %q", got, want)
	}
}

// A failing compile reports its exit code and last lines; release output that is not YAML
// is reported with its line.
func TestClassicErrors(t *testing.T) {
	e := e2ekit.NewEnv(t)
	dir := t.TempDir()
	e2ekit.WriteFile(t, filepath.Join(dir, "index.txt"), "x\n")

	out, code := e.Slipway("build", "failing", "--path", dir, "--builder", e.Builder, "--buildpack", classicBP("fail"))
	if code != 51 {
		t.Errorf("failing compile: exit %d, want 51\n%s", code, out)
	}
	for _, want := range []string{"bin/compile failed with exit code 3", "error: the thing is broken", "step one ok"} {
		if !strings.Contains(out, want) {
			t.Errorf("failing compile output lacks %q:\n%s", want, out)
		}
	}

	out, code = e.Slipway("build", "badrelease", "--path", dir, "--builder", e.Builder, "--buildpack", classicBP("badrelease"))
	if code == 0 {
		t.Fatalf("invalid release YAML built:\n%s", out)
	}
	if !regexp.MustCompile(`bin/release of buildpack classic/classic-badrelease@\S+ is not valid YAML: yaml: line \d+`).MatchString(out) {
		t.Errorf("invalid release YAML error lacks the line:\n%s", out)
	}
}

// Cloud Foundry: bin/supply of the first buildpack fills DEPS_DIR/<idx> (bin on PATH, env
// files, profile.d), the final buildpack's bin/finalize sees them, and the image runs the
// release's web process with the supply's profile.d sourced.
func TestClassicCloudFoundrySupplyFinalize(t *testing.T) {
	e := e2ekit.NewEnv(t)
	dir := t.TempDir()
	e2ekit.WriteFile(t, filepath.Join(dir, "final.txt"), "app\n")
	out := e.MustSlipway("build", "cfapp", "--path", dir, "--builder", e.Builder,
		"--buildpack", classicBP("cf-supply"), "--buildpack", classicBP("cf-final"))
	for _, want := range []string{"Supplying greet into DEPS_DIR/0", "nothing to supply (idx 1)",
		"Finalizing with greet from the supply buildpack and SUPPLIED_BY=cf-supply"} {
		if !strings.Contains(out, want) {
			t.Errorf("build output lacks %q:\n%s", want, out)
		}
	}
	archive := filepath.Join(t.TempDir(), "cfapp.tar")
	e.MustSlipway("save", "cfapp", "-o", archive)
	got := e2ekit.PodmanRun(t, archive, "localhost/cfapp")
	for _, want := range []string{"greet from the supply buildpack",
		"finalized with SUPPLIED_BY=cf-supply supply_profile=sourced deps=/workspace/.deps"} {
		if !strings.Contains(got, want) {
			t.Errorf("web process printed %q, want %q", got, want)
		}
	}
}

// An Aptfile buildpack on the default stack: apt-get download from the stack's own apt
// sources, dpkg -x into $BUILD_DIR/.apt, PATH set by .profile.d; the web process runs the
// installed binary.
func TestClassicAptfileOnDefaultStack(t *testing.T) {
	e, cache := e2ekit.StackEnv(t)
	e.MustSlipway("stack", "build", "--cache-dir", cache)
	builder := e2ekit.StackBuilder(t, "slipway/build:bookworm", "slipway/run:bookworm")
	dir := t.TempDir()
	e2ekit.WriteFile(t, filepath.Join(dir, "Aptfile"), "# GNU hello\nhello\n")
	e2ekit.WriteFile(t, filepath.Join(dir, "Procfile"), "web: hello --greeting='hello from .apt'\n")
	out := e.MustSlipway("build", "aptapp", "--path", dir, "--builder", builder, "--buildpack", classicBP("aptfile"))
	for _, want := range []string{"-----> Apt app detected", "-----> Fetching .debs for hello", "-----> Installing hello_"} {
		if !strings.Contains(out, want) {
			t.Errorf("build output lacks %q:\n%s", want, out)
		}
	}
	archive := filepath.Join(t.TempDir(), "aptapp.tar")
	e.MustSlipway("save", "aptapp", "-o", archive)
	if got := e2ekit.PodmanRun(t, archive, "localhost/aptapp"); !strings.Contains(got, "hello from .apt") {
		t.Errorf("web process printed %q, want the greeting of the apt-installed hello", got)
	}
}

// A classic buildpack and slipway/nodejs in one build: the classic one's file is in the app
// and its .profile.d runs at launch beside the Node.js layers.
func TestClassicMixedWithNodejs(t *testing.T) {
	e := e2ekit.NewEnv(t)
	builder := e.NodeBuilder()
	reg := npmmirror.Start(t)
	appDir := filepath.Join(t.TempDir(), "app")
	if out, err := exec.Command("cp", "-a", filepath.Join(e2ekit.RepoRoot, "buildpacks", "testdata", "apps", "npm-express"), appDir).CombinedOutput(); err != nil {
		t.Fatalf("copy app: %v\n%s", err, out)
	}
	out := e.MustSlipway("build", "mixed", "--path", appDir, "--builder", builder,
		"--buildpack", classicBP("motd"), "--buildpack", "slipway/nodejs@0.1.0",
		"--env", "BP_NODE_SOURCE=npm", "--env", "BP_NPM_REGISTRY="+reg, "--network", "host")
	for _, want := range []string{"[classic/classic-motd] -----> Writing motd.txt", "Installing Node.js 22."} {
		if !strings.Contains(out, want) {
			t.Errorf("build output lacks %q:\n%s", want, out)
		}
	}
	archive := filepath.Join(t.TempDir(), "mixed.tar")
	e.MustSlipway("save", "mixed", "-o", archive)
	got := e2ekit.PodmanExec(t, archive, "localhost/mixed", "/cnb/lifecycle/launcher",
		`node -e "process.stdout.write(require('fs').readFileSync('motd.txt','utf8'))"; echo "$MOTD_PROFILE"`)
	for _, want := range []string{"message of the day from a classic buildpack", "profile-d-ran"} {
		if !strings.Contains(got, want) {
			t.Errorf("launch printed %q, want %q", got, want)
		}
	}
}

// zipDir packs a fixture directory as a Cloud Foundry-style .zip (files at the root).
func zipDir(t *testing.T, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		h, err := zip.FileInfoHeader(info)
		if err != nil {
			return err
		}
		h.Name, h.Method = filepath.ToSlash(rel), zip.Deflate
		w, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// gitDaemon serves a bare clone of a fixture buildpack, tagged v1.0.0, over git:// on
// 127.0.0.1 and returns its URL.
func gitDaemon(t *testing.T, fixture string) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	run := func(dir string, args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	work := filepath.Join(t.TempDir(), "work")
	if out, err := exec.Command("cp", "-a", fixture, work).CombinedOutput(); err != nil {
		t.Fatalf("copy: %v\n%s", err, out)
	}
	run(work, "init", "-q", "-b", "main")
	run(work, "add", ".")
	run(work, "commit", "-q", "-m", "buildpack")
	run(work, "tag", "v1.0.0")
	base := t.TempDir()
	name := filepath.Base(fixture) + ".git"
	run(base, "clone", "-q", "--bare", work, filepath.Join(base, name))

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command("git", "daemon", "--reuseaddr", "--export-all", "--base-path="+base,
		"--listen=127.0.0.1", fmt.Sprintf("--port=%d", port), base)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	url := fmt.Sprintf("git://127.0.0.1:%d/%s", port, name)
	for i := 0; ; i++ {
		if exec.Command("git", "ls-remote", url).Run() == nil {
			return url
		}
		if i == 100 {
			t.Fatalf("git daemon on port %d did not answer", port)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Classic buildpacks by URL: a .zip over http and a git repository at a tag, named in
// builder.toml [[buildpacks]] and with --buildpack, fetched into the cache once.
func TestClassicFetchedByURL(t *testing.T) {
	e := e2ekit.NewEnv(t)
	var zipGets atomic.Int32
	zipBody := zipDir(t, classicBP("counter"))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/classic-counter.zip" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("ETag", `"counter"`)
		if r.Header.Get("If-None-Match") == `"counter"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		zipGets.Add(1)
		w.Write(zipBody)
	}))
	t.Cleanup(srv.Close)
	zipURL := srv.URL + "/classic-counter.zip"
	gitURL := gitDaemon(t, classicBP("chained")) + "#v1.0.0"

	builder := filepath.Join(t.TempDir(), "builder.toml")
	e2ekit.WriteFile(t, builder, fmt.Sprintf(`
[[buildpacks]]
  uri = %q
[[buildpacks]]
  uri = %q
[[order]]
  [[order.group]]
    id = "classic/classic-counter"
  [[order.group]]
    id = "classic/classic-chained"
[build]
  image = %q
[[run.images]]
  image = %q
`, zipURL, gitURL, e2ekit.BuildImageName, e2ekit.RunImageName))
	dir := t.TempDir()
	e2ekit.WriteFile(t, filepath.Join(dir, "counter.txt"), "x\n")
	out := e.MustSlipway("build", "fetched", "--path", dir, "--builder", builder, "--env", "GREETING=by-url")
	for _, want := range []string{"classic/classic-chained 1.0.0", "build number 1", "COUNTER_HOME=/workspace/.counter"} {
		if !strings.Contains(out, want) {
			t.Errorf("builder.toml build output lacks %q:\n%s", want, out)
		}
	}
	out = e.MustSlipway("build", "fetched", "--path", dir, "--builder", e.Builder, "--env", "GREETING=by-url",
		"--buildpack", zipURL, "--buildpack", gitURL)
	if !strings.Contains(out, "build number 2") {
		t.Errorf("--buildpack URL build output lacks the second count:\n%s", out)
	}
	if n := zipGets.Load(); n != 1 {
		t.Errorf("the zip was downloaded %d times; want once (then 304 Not Modified)", n)
	}
	archive := filepath.Join(t.TempDir(), "fetched.tar")
	e.MustSlipway("save", "fetched", "-o", archive)
	if got := e2ekit.PodmanRun(t, archive, "localhost/fetched"); !strings.Contains(got, "counter=2 greeting=by-url release=from-release") {
		t.Errorf("web process printed %q", got)
	}

	// Unreachable: the URL and what to do.
	out, code := e.Slipway("build", "fetched", "--path", dir, "--builder", e.Builder, "--buildpack", "http://127.0.0.1:1/gone.tgz")
	if code == 0 || !strings.Contains(out, "http://127.0.0.1:1/gone.tgz") || !strings.Contains(out, "check the URL") {
		t.Errorf("unreachable buildpack URL: exit %d\n%s", code, out)
	}
}
