package golang

import (
	"bufio"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipway/slipway/internal/e2ekit"
)

// tinyRecipe is the shell that buildpacks/go/README.md gives for writing tiny.toml (the
// lines of its distroless-style run image block up to "> tiny.toml"), so the test follows
// the documentation as it is.
func tinyRecipe(t *testing.T) string {
	t.Helper()
	f, err := os.Open(filepath.Join(e2ekit.RepoRoot, "buildpacks", "go", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b strings.Builder
	section, block := false, false
	for sc := bufio.NewScanner(f); sc.Scan(); {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "### A distroless-style run image"):
			section = true
		case section && !block && strings.HasPrefix(line, "```sh"):
			block = true
		case block:
			b.WriteString(line + "\n")
			if strings.Contains(line, "> tiny.toml") {
				return b.String()
			}
		}
	}
	t.Fatal("buildpacks/go/README.md has no distroless-style run image recipe writing tiny.toml")
	return ""
}

// The tiny run image the Go README documents (base-files, ca-certificates, tzdata, netbase
// and their dependencies: no shell) holds a static Go service that podman runs and that answers HTTP. The
// stack's [run] section is the README recipe's output; its [build] section is cut down to
// what the Go buildpack needs, so the test assembles a small build image rather than the
// 200-package default one.
func TestGoTinyRunImage(t *testing.T) {
	t.Parallel()
	e, debs := e2ekit.StackEnv(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(e2ekit.SlipwayBin, filepath.Join(bin, "slipway")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", tinyRecipe(t))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("README recipe: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "tiny.toml"))
	if err != nil {
		t.Fatal(err)
	}
	tiny := string(b)
	bi, ri := strings.Index(tiny, "\n[build]\n"), strings.Index(tiny, "\n[run]\n")
	if bi < 0 || ri < bi {
		t.Fatalf("tiny.toml has no [build] then [run] section:\n%s", tiny)
	}
	run := tiny[ri:]
	goContains(t, "tiny.toml [run]", run, `image = "slipway/run-tiny:bookworm"`, `"base-files", "ca-certificates", "tzdata", "netbase",`)
	for _, p := range []string{`"bash"`, `"libc6"`, `"coreutils"`, `"libatomic1"`, `"libssl3"`} {
		if strings.Contains(run, p) {
			t.Errorf("the recipe's run image still lists %s:\n%s", p, run)
		}
	}
	const buildImage = "slipway-test/tiny-build:bookworm"
	tiny = tiny[:bi] + `
[build]
image = "` + buildImage + `"
env = ["LANG=C.UTF-8"]
packages = ["base-files", "base-passwd", "bash", "coreutils", "dash", "libc-bin", "ca-certificates", "tzdata", "netbase"]
` + run
	e2ekit.WriteFile(t, filepath.Join(dir, "tiny.toml"), tiny)
	e.MustSlipway("stack", "build", "--config", filepath.Join(dir, "tiny.toml"), "--cache-dir", debs)

	builder := e2ekit.OurBuilder(t, buildImage, "slipway/run-tiny:bookworm", true, "slipway/go")
	_, proxy := goProxy(t)
	out := e.MustSlipway(goBuildArgs(e, "gotiny", copyGoApp(t, "go-service"), builder, proxy, downServer(t), "BP_KEEP_FILES=static/*")...)
	goContains(t, "build output", out, "Process web: go-service", "Successfully built image gotiny")

	paths, size := imageFiles(t, e.Store, "gotiny")
	for _, p := range paths {
		switch path.Base(p) {
		case "sh", "bash", "dash":
			t.Errorf("the tiny image has a shell: %s", p)
		}
	}
	t.Logf("go-service on the tiny run image: %.1f MB uncompressed", float64(size)/1e6)

	archive := filepath.Join(t.TempDir(), "gotiny.tar")
	e.MustSlipway("save", "gotiny", "-o", archive)
	c := e2ekit.PodmanServe(t, archive, "localhost/gotiny")
	goContains(t, "answer", c.Get(), "hello from go-service be411957-61fe-5cbc-b2fe-1f5b49e708b9", "on go"+goTestToolchain, "static page kept")
	took, code := c.Stop()
	t.Logf("podman stop of the tiny image: %s, exit code %d", took.Round(time.Millisecond), code)
}
