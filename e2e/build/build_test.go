package build

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/slipway/slipway/imagestore"
	"github.com/slipway/slipway/inspect"
	"github.com/slipway/slipway/internal/e2ekit"
	"github.com/slipway/slipway/registry"
)

// The main flow: build into the local store, inspect, save, run with podman.
func TestBuildInspectSaveRun(t *testing.T) {
	e := e2ekit.NewEnv(t)
	out := e.MustSlipway("build", "myapp", "--path", e2ekit.App("hello"), "--builder", e.Builder)
	for _, want := range []string{"===> DETECTING", "===> BUILDING", "===> EXPORTING", "building greeter for World as uid 1000", "Successfully built image myapp"} {
		if !strings.Contains(out, want) {
			t.Errorf("build output lacks %q:\n%s", want, out)
		}
	}

	s, err := imagestore.Open(e.Store)
	if err != nil {
		t.Fatal(err)
	}
	img, err := s.Image("myapp")
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Fatalf("validate.Image: %v", err)
	}
	info, err := inspect.Read(img)
	if err != nil {
		t.Fatal(err)
	}
	if info.DefaultProcess != "web" || len(info.Buildpacks) != 1 || info.Buildpacks[0].ID != "test/hello" {
		t.Errorf("inspect: default %q buildpacks %+v", info.DefaultProcess, info.Buildpacks)
	}
	// A store-resident run image is recorded in the store's naming (podman's localhost/…).
	if info.RunImage.Image != e2ekit.RunImageName || !strings.HasPrefix(info.RunImage.Reference, "localhost/"+strings.Split(e2ekit.RunImageName, ":")[0]+"@sha256:") {
		t.Errorf("run image recorded as %+v", info.RunImage)
	}
	cfg, _ := img.ConfigFile()
	if cfg.Config.Labels["org.example.greeter"] != "yes" {
		t.Errorf("buildpack label missing: %v", cfg.Config.Labels)
	}
	if cfg.Config.WorkingDir != "/workspace" {
		t.Errorf("WorkingDir = %q", cfg.Config.WorkingDir)
	}

	// inspect --output json prints the same summary.
	js := e.MustSlipway("inspect", "myapp", "--output", "json")
	var parsed inspect.Info
	if err := json.Unmarshal([]byte(js), &parsed); err != nil {
		t.Fatalf("inspect json: %v\n%s", err, js)
	}
	if len(parsed.Processes) != 2 {
		t.Errorf("inspect json processes = %+v", parsed.Processes)
	}
	if !strings.Contains(e.MustSlipway("images"), "localhost/myapp:latest") {
		t.Errorf("images does not list localhost/myapp:latest")
	}

	archive := filepath.Join(t.TempDir(), "myapp.tar")
	e.MustSlipway("save", "myapp", "-o", archive)
	got := e2ekit.PodmanRun(t, archive, "localhost/myapp")
	if !strings.Contains(got, "Hello, World! args: default-arg") {
		t.Errorf("default process printed %q", got)
	}
	// User args replace the process args (buildpack.md, Launch, B ≥ 0.9).
	if got := e2ekit.PodmanRun(t, archive, "localhost/myapp", "a", "b"); !strings.Contains(got, "Hello, World! args: a b") {
		t.Errorf("args override printed %q", got)
	}
	// The launcher's direct form (buildpack.md, Launch: `--`) lists the app dir: the excluded
	// file never reached the image (project.toml exclude, extensions/project-descriptor.md).
	got = e2ekit.PodmanLaunch(t, archive, "localhost/myapp", "ls", "/workspace")
	if !strings.Contains(got, "hello.txt") || strings.Contains(got, "secret.log") {
		t.Errorf("ls /workspace printed %q: want hello.txt and no secret.log", got)
	}
}

// platform.md, Build Reproducibility: the same input builds the same image digest.
func TestBuildTwiceSameDigest(t *testing.T) {
	e := e2ekit.NewEnv(t)
	e.MustSlipway("build", "a", "--path", e2ekit.App("hello"), "--builder", e.Builder)
	e.MustSlipway("build", "a2", "--path", e2ekit.App("hello"), "--builder", e.Builder)
	s, _ := imagestore.Open(e.Store)
	d1 := e2ekit.DigestOf(t, s, "a")
	e.MustSlipway("build", "a", "--path", e2ekit.App("hello"), "--builder", e.Builder)
	if d2 := e2ekit.DigestOf(t, s, "a"); d1 != d2 {
		t.Fatalf("rebuild changed digest: %s → %s", d1, d2)
	}
	if d3 := e2ekit.DigestOf(t, s, "a2"); d1 != d3 {
		t.Fatalf("a different image name gave a different digest: %s vs %s", d1, d3)
	}
}

// --publish pushes to a real registry process; the image reads back valid.
func TestPublishToRegistry(t *testing.T) {
	e := e2ekit.NewEnv(t)
	addr := e2ekit.StartRegistry(t)
	ref := addr + "/test/myapp:v1"
	e.MustSlipway("build", ref, "--path", e2ekit.App("hello"), "--builder", e.Builder, "--publish", "--insecure-registry", addr)
	img, err := registry.Image(context.Background(), ref, registry.Options{Insecure: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Fatalf("validate.Image: %v", err)
	}
	if _, err := inspect.Read(img); err != nil {
		t.Fatal(err)
	}
	out := e.MustSlipway("inspect", ref, "--remote", "--insecure-registry", addr)
	if !strings.Contains(out, "test/hello") {
		t.Errorf("remote inspect:\n%s", out)
	}
}

// A Procfile app on a Buildpack API 0.7 buildpack: shell process, default web. Built in the
// bwrap sandbox and with --sandbox host (host filesystem, private mount namespace): the same
// inputs give the same image either way, since paths in the image are the canonical ones.
func TestProcfileApp(t *testing.T) {
	e := e2ekit.NewEnv(t)
	e.MustSlipway("build", "proc", "--path", e2ekit.App("procfile"), "--builder", e.Builder)
	archive := filepath.Join(t.TempDir(), "proc.tar")
	e.MustSlipway("save", "proc", "-o", archive)
	if got := e2ekit.PodmanRun(t, archive, "localhost/proc"); !strings.Contains(got, "procfile web on port 8080") {
		t.Errorf("procfile web printed %q", got)
	}
	e.MustSlipway("build", "proc-host", "--path", e2ekit.App("procfile"), "--builder", e.Builder, "--sandbox", "host")
	s, _ := imagestore.Open(e.Store)
	if a, b := e2ekit.DigestOf(t, s, "proc"), e2ekit.DigestOf(t, s, "proc-host"); a != b {
		t.Errorf("--sandbox host built %s, bwrap built %s", b, a)
	}
}

// platform.md, detector: no group passes → exit 20 and a report naming every buildpack and why.
func TestNoGroupPassedReport(t *testing.T) {
	e := e2ekit.NewEnv(t)
	out, code := e.Slipway("build", "none", "--path", e2ekit.App("none"), "--builder", e.Builder)
	if code != 20 {
		t.Fatalf("exit code %d, want 20\n%s", code, out)
	}
	for _, want := range []string{"test/hello@1.0.0", "test/procfile@1.0.0", "no hello.txt", "no Procfile"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

// A failing buildpack exits 51, names itself, and leaves the previous image untouched.
func TestFailedBuildKeepsPreviousImage(t *testing.T) {
	e := e2ekit.NewEnv(t)
	e.MustSlipway("build", "keep", "--path", e2ekit.App("hello"), "--builder", e.Builder)
	s, _ := imagestore.Open(e.Store)
	before := e2ekit.DigestOf(t, s, "keep")
	appDir := t.TempDir()
	e2ekit.WriteFile(t, filepath.Join(appDir, "hello.txt"), "Changed")
	out, code := e.Slipway("build", "keep", "--path", appDir, "--builder", e.Builder, "--env", "FAIL_BUILD=on purpose")
	if code != 51 {
		t.Fatalf("exit code %d, want 51\n%s", code, out)
	}
	for _, want := range []string{"test/hello@1.0.0", "asked to fail: on purpose"} {
		if !strings.Contains(out, want) {
			t.Errorf("failure output lacks %q:\n%s", want, out)
		}
	}
	s, _ = imagestore.Open(e.Store)
	if after := e2ekit.DigestOf(t, s, "keep"); after != before {
		t.Fatalf("failed build changed the stored image: %s → %s", before, after)
	}
	img, _ := s.Image("keep")
	if err := validate.Image(img); err != nil {
		t.Fatalf("previous image no longer valid: %v", err)
	}
}

func TestBadInputErrors(t *testing.T) {
	e := e2ekit.NewEnv(t)
	badBuilder := filepath.Join(t.TempDir(), "builder.toml")
	e2ekit.WriteFile(t, badBuilder, "[build]\nimage = \n")
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"missing app dir", []string{"build", "x", "--path", "/nonexistent/app", "--builder", e.Builder}, []string{"/nonexistent/app", "--path"}},
		{"malformed builder.toml", []string{"build", "x", "--path", e2ekit.App("hello"), "--builder", badBuilder}, []string{badBuilder, "line 2"}},
		{"unknown image", []string{"inspect", "nope"}, []string{"nope"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, code := e.Slipway(tc.args...)
			if code == 0 {
				t.Fatalf("succeeded:\n%s", out)
			}
			if strings.Contains(out, "goroutine ") || strings.Contains(out, "panic:") {
				t.Fatalf("stack trace:\n%s", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("error lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// project.toml (extensions/project-descriptor.md): its buildpacks replace the builder's order like pack
// (here an inline script buildpack after a buildpack by uri), [[io.buildpacks.build.env]]
// reaches buildpacks as <platform>/env, and version/source-url become project metadata.
func TestProjectTomlBuildpacksAndEnv(t *testing.T) {
	e := e2ekit.NewEnv(t)
	appDir := t.TempDir()
	e2ekit.WriteFile(t, filepath.Join(appDir, "Procfile"), "web: echo from procfile\n")
	e2ekit.WriteFile(t, filepath.Join(appDir, "project.toml"), fmt.Sprintf(`[_]
schema-version = "0.2"
version = "2.0.0"
source-url = "https://example.com/app.git"

[[io.buildpacks.group]]
uri = %q

[[io.buildpacks.group]]
uri = %q

[[io.buildpacks.group]]
id = "example/inline"
  [io.buildpacks.group.script]
  api = "0.10"
  shell = "/bin/bash"
  inline = "echo \"inline saw GREETING=$GREETING MOTD_FILE=$MOTD_FILE\""

[[io.buildpacks.build.env]]
name = "GREETING"
value = "from-project-toml"
`, filepath.Join(e2ekit.RepoRoot, "e2e", "testdata", "buildpacks", "procfile"),
		// A classic (Heroku) buildpack is accepted in project.toml like any other; its
		// export reaches the CNB buildpack after it.
		filepath.Join(e2ekit.RepoRoot, "e2e", "testdata", "buildpacks", "classic-motd")))
	out := e.MustSlipway("build", "proj", "--path", appDir, "--builder", e.Builder)
	for _, want := range []string{"reading Procfile", "[classic/classic-motd] -----> Writing motd.txt",
		"inline saw GREETING=from-project-toml MOTD_FILE=/workspace/motd.txt"} {
		if !strings.Contains(out, want) {
			t.Errorf("build output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "building greeter") {
		t.Errorf("the builder's order ran although project.toml replaces it:\n%s", out)
	}
	s, _ := imagestore.Open(e.Store)
	img, err := s.Image("proj")
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := img.ConfigFile()
	pm := cfg.Config.Labels["io.buildpacks.project.metadata"]
	if !strings.Contains(pm, `"declared":"2.0.0"`) || !strings.Contains(pm, "https://example.com/app.git") {
		t.Errorf("io.buildpacks.project.metadata = %s", pm)
	}
}
