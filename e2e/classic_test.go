package e2e

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/slipway/slipway/imagestore"
	"github.com/slipway/slipway/inspect"
)

func classicBP(name string) string {
	return filepath.Join(repoRoot, "e2e", "testdata", "buildpacks", "classic-"+name)
}

// Heroku's buildpack API run unmodified: detect names the framework, compile's CACHE_DIR
// survives between builds (the counter reaches 2), ENV_DIR holds --env values, export
// reaches the next buildpack, release gives processes and config vars, and .profile.d runs
// at launch with HOME = the app dir.
func TestClassicHerokuBuildpacks(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "counter.txt"), "count me\n")
	args := []string{"build", "classic", "--path", dir, "--builder", e.builder,
		"--buildpack", classicBP("counter"), "--buildpack", classicBP("chained"), "--env", "GREETING=hi"}
	out := e.mustSlipway(args...)
	for _, want := range []string{
		"-----> Counter app detected (classic/classic-counter@sha256-",
		"-----> Counting builds in CACHE_DIR", "build number 1",
		"GREETING=hi (not in the environment: unset)",
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
	out = e.mustSlipway(args...)
	if !strings.Contains(out, "build number 2") {
		t.Errorf("second build did not see CACHE_DIR of the first:\n%s", out)
	}

	s, err := imagestore.Open(e.store)
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
	e.mustSlipway("save", "classic", "-o", archive)
	got := podmanRun(t, archive, "localhost/classic")
	if want := "counter=2 greeting=hi release=from-release profile=from-profile-d home=/workspace"; !strings.Contains(got, want) {
		t.Errorf("web process printed %q, want %q", got, want)
	}
	got = podmanExec(t, archive, "localhost/classic", "/cnb/process/chained")
	if want := "chained saw COUNTER_HOME=/workspace/.counter count=2"; !strings.Contains(got, want) {
		t.Errorf("chained process printed %q, want %q", got, want)
	}
}

// A failing compile reports its exit code and last lines; release output that is not YAML
// is reported with its line.
func TestClassicErrors(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "index.txt"), "x\n")

	out, code := e.slipway("build", "failing", "--path", dir, "--builder", e.builder, "--buildpack", classicBP("fail"))
	if code != 51 {
		t.Errorf("failing compile: exit %d, want 51\n%s", code, out)
	}
	for _, want := range []string{"bin/compile failed with exit code 3", "error: the thing is broken", "step one ok"} {
		if !strings.Contains(out, want) {
			t.Errorf("failing compile output lacks %q:\n%s", want, out)
		}
	}

	out, code = e.slipway("build", "badrelease", "--path", dir, "--builder", e.builder, "--buildpack", classicBP("badrelease"))
	if code == 0 {
		t.Fatalf("invalid release YAML built:\n%s", out)
	}
	if !regexp.MustCompile(`bin/release of buildpack classic/classic-badrelease@\S+ is not valid YAML: yaml: line \d+`).MatchString(out) {
		t.Errorf("invalid release YAML error lacks the line:\n%s", out)
	}
}
