package stack

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/slipway/slipway/debian/debiantest"
	"github.com/slipway/slipway/internal/e2ekit"
	"github.com/slipway/slipway/registry"
	"github.com/slipway/slipway/stack"
)

var builtRe = regexp.MustCompile(`Successfully built image (\S+) \((sha256:[0-9a-f]+)\): (\d+) packages, ([0-9.]+ \S+) compressed`)

// builtImages parses `slipway stack build` output: name → digest and size.
func builtImages(t *testing.T, out string) map[string][2]string {
	t.Helper()
	m := map[string][2]string{}
	for _, g := range builtRe.FindAllStringSubmatch(out, -1) {
		m[g[1]] = [2]string{g[2], g[4]}
	}
	if len(m) != 2 {
		t.Fatalf("want two built images in output:\n%s", out)
	}
	return m
}

// The built-in Debian 12 stack from the real mirror: build it (twice: same digests,
// platform.md, Build Reproducibility), build an app on it with the fixture buildpack, run it with podman.
func TestStackBuildDefault(t *testing.T) {
	e, cache := e2ekit.StackEnv(t)
	out := e.MustSlipway("stack", "build", "--cache-dir", cache)
	first := builtImages(t, out)
	t.Logf("default stack: build %v, run %v", first["slipway/build:bookworm"], first["slipway/run:bookworm"])
	for _, want := range []string{"Indexed", "maintainer scripts not run", "Stack built in"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	again := builtImages(t, e.MustSlipway("stack", "build", "--cache-dir", cache))
	for name, v := range first {
		if again[name][0] != v[0] {
			t.Errorf("%s: digest %s then %s; same packages must give the same image", name, v[0], again[name][0])
		}
	}

	builder := e2ekit.StackBuilder(t, "slipway/build:bookworm", "slipway/run:bookworm")
	e.MustSlipway("build", "myapp", "--path", e2ekit.App("hello"), "--builder", builder)
	archive := filepath.Join(t.TempDir(), "myapp.tar")
	e.MustSlipway("save", "myapp", "-o", archive)
	if got := e2ekit.PodmanRun(t, archive, "localhost/myapp"); !strings.Contains(got, "Hello, World! args: default-arg") {
		t.Errorf("app on the default stack printed %q", got)
	}
	// What the run image offers processes: the CNB user (platform.md, Build Image), CA bundle, dpkg status.
	got := e2ekit.PodmanExec(t, archive, "localhost/myapp", "/bin/bash", "-c",
		"id -u; test -s /etc/ssl/certs/ca-certificates.crt && echo certs; grep -c '^Package:' /var/lib/dpkg/status; readlink /etc/localtime")
	for _, want := range []string{"1001\n", "certs\n", "/usr/share/zoneinfo/Etc/UTC"} {
		if !strings.Contains(got, want) {
			t.Errorf("run image check lacks %q:\n%s", want, got)
		}
	}
}

// The patch flow: a newer package version in the index → stack build → new run image →
// slipway rebase of an app built on the old one → the app runs with the new package.
func TestStackPatchFlow(t *testing.T) {
	e, cache := e2ekit.StackEnv(t)
	repo := debiantest.New(t)
	marker := func(v string) {
		repo.Add(debiantest.Deb{Name: "slipway-marker", Version: v, Arch: "all", Files: map[string]string{"/usr/share/slipway-marker": "marker " + v + "\n"}})
		repo.Publish(nil)
	}
	marker("1.0")
	def := string(stack.DefaultConfig())
	patched := strings.Replace(def, `"zlib1g", "libssl3",`, `"zlib1g", "libssl3", "slipway-marker",`, 1)
	if patched == def {
		t.Fatal("default stack.toml changed: cannot add the marker package to [run]")
	}
	patched += fmt.Sprintf("\n[[sources]]\nurl = %q\nsuite = %q\ncomponents = [\"main\"]\nkeyring = %q\n", repo.URL, debiantest.Suite, repo.Keyring)
	config := filepath.Join(t.TempDir(), "stack.toml")
	e2ekit.WriteFile(t, config, patched)

	old := builtImages(t, e.MustSlipway("stack", "build", "--config", config, "--cache-dir", cache))
	builder := e2ekit.StackBuilder(t, "slipway/build:bookworm", "slipway/run:bookworm")
	e.MustSlipway("build", "myapp", "--path", e2ekit.App("hello"), "--builder", builder)
	archive := filepath.Join(t.TempDir(), "old.tar")
	e.MustSlipway("save", "myapp", "-o", archive)
	if got := e2ekit.PodmanExec(t, archive, "localhost/myapp", "/usr/bin/cat", "/usr/share/slipway-marker"); !strings.Contains(got, "marker 1.0") {
		t.Fatalf("app before the patch sees %q", got)
	}

	marker("1.1")
	out := e.MustSlipway("stack", "build", "--config", config, "--cache-dir", cache)
	cur := builtImages(t, out)
	if cur["slipway/run:bookworm"][0] == old["slipway/run:bookworm"][0] {
		t.Fatalf("run image unchanged after slipway-marker 1.1 entered the index")
	}
	// The build image records the run image's packages (/etc/slipway/apt/run-status, what
	// sdk.Apt skips at launch), so a patched run image gives a new build image too.
	if cur["slipway/build:bookworm"][0] == old["slipway/build:bookworm"][0] {
		t.Errorf("build image unchanged although the run-image package record in it changed")
	}
	e.MustSlipway("rebase", "myapp", "--run-image", "slipway/run:bookworm")
	archive = filepath.Join(t.TempDir(), "new.tar")
	e.MustSlipway("save", "myapp", "-o", archive)
	if got := e2ekit.PodmanExec(t, archive, "localhost/myapp", "/usr/bin/cat", "/usr/share/slipway-marker"); !strings.Contains(got, "marker 1.1") {
		t.Errorf("rebased app sees %q, want the patched package", got)
	}
	if got := e2ekit.PodmanRun(t, archive, "localhost/myapp"); !strings.Contains(got, "Hello, World! args: default-arg") {
		t.Errorf("rebased app printed %q", got)
	}
}

// `slipway stack build --publish` pushes both images to their registry (a real registry on
// 127.0.0.1), readable and valid, with the CNB user of platform.md, Build Image on the build image.
func TestStackBuildPublish(t *testing.T) {
	e, cache := e2ekit.StackEnv(t)
	addr := e2ekit.StartRegistry(t)
	repo := debiantest.New(t)
	repo.Add(debiantest.Deb{Name: "slipway-marker", Version: "1.0", Arch: "all", Files: map[string]string{"/usr/share/slipway-marker": "marker\n"}})
	repo.Publish(nil)
	config := filepath.Join(t.TempDir(), "stack.toml")
	e2ekit.WriteFile(t, config, fmt.Sprintf(`id = "io.example.tiny"
[[sources]]
url = %q
suite = %q
components = ["main"]
keyring = %q
[user]
name = "cnb"
build-uid = 1000
build-gid = 1000
run-uid = 1001
run-gid = 1000
[build]
image = "%s/stacks/build:1"
packages = ["slipway-marker"]
[run]
image = "%s/stacks/run:1"
packages = ["slipway-marker"]
`, repo.URL, debiantest.Suite, repo.Keyring, addr, addr))
	out := e.MustSlipway("stack", "build", "--config", config, "--cache-dir", cache, "--publish", "--insecure-registry", addr)
	built := builtImages(t, out)
	ro := registry.Options{Insecure: []string{addr}}
	for _, name := range []string{addr + "/stacks/build:1", addr + "/stacks/run:1"} {
		img, err := registry.Image(context.Background(), name, ro)
		if err != nil {
			t.Fatalf("%s not in the registry: %v\n%s", name, err, out)
		}
		if err := validate.Image(img); err != nil {
			t.Fatalf("validate %s: %v", name, err)
		}
		d, _ := img.Digest()
		if built[name][0] != d.String() {
			t.Errorf("%s: registry has %s, output said %s", name, d, built[name][0])
		}
		cfg, _ := img.ConfigFile()
		if cfg.Config.Labels["io.buildpacks.stack.id"] != "io.example.tiny" {
			t.Errorf("%s labels %v", name, cfg.Config.Labels)
		}
	}
	b, _ := registry.Image(context.Background(), addr+"/stacks/build:1", ro)
	cfg, _ := b.ConfigFile()
	if cfg.Config.User != "1000:1000" || !strings.Contains(strings.Join(cfg.Config.Env, " "), "CNB_USER_ID=1000") {
		t.Errorf("build image user %q env %v", cfg.Config.User, cfg.Config.Env)
	}
}
