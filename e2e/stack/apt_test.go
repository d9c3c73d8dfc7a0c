package stack

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway/slipway/imagestore"
	"github.com/slipway/slipway/internal/e2ekit"
)

// testBuildpack writes a script buildpack (bin/detect passes, bin/build runs script).
func testBuildpack(t *testing.T, id, script string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), strings.ReplaceAll(id, "/", "_"))
	e2ekit.WriteFile(t, filepath.Join(dir, "buildpack.toml"), fmt.Sprintf("api = \"0.12\"\n[buildpack]\n  id = %q\n  version = \"1.0.0\"\n[[targets]]\n  os = \"linux\"\n", id))
	e2ekit.WriteFile(t, filepath.Join(dir, "bin", "detect"), "#!/bin/sh\nexit 0\n")
	e2ekit.WriteFile(t, filepath.Join(dir, "bin", "build"), "#!/bin/bash\nset -euo pipefail\n"+script)
	for _, f := range []string{"detect", "build"} {
		if err := os.Chmod(filepath.Join(dir, "bin", f), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// An Aptfile brings jq and tree, which neither the run image has nor (tree) the build
// image: a later buildpack runs tree at build, the process runs jq and tree at launch.
// The image is the same byte for byte when built again (reusing the layer) and when built
// from scratch.
func TestAptfileApp(t *testing.T) {
	e := e2ekit.DefaultStackEnv(t)
	bps := e2ekit.PackagedBuildpacks(t)
	check := testBuildpack(t, "test/uses-apt", `echo "at build: $(tree --version | head -1)"; echo "jq at build: $(command -v jq)"`)
	builder := filepath.Join(t.TempDir(), "builder.toml")
	e2ekit.WriteFile(t, builder, fmt.Sprintf(`
[[buildpacks]]
  uri = %q
[[buildpacks]]
  uri = %q
[[buildpacks]]
  uri = %q
[[order]]
  [[order.group]]
    id = "slipway/apt"
    version = "0.1.0"
    optional = true
  [[order.group]]
    id = "test/uses-apt"
    version = "1.0.0"
  [[order.group]]
    id = "slipway/procfile"
    version = "0.1.0"
[build]
  image = "slipway/build:bookworm"
[[run.images]]
  image = "slipway/run:bookworm"
`, bps["slipway/apt"], check, bps["slipway/procfile"]))
	appDir := filepath.Join(t.TempDir(), "app")
	e2ekit.WriteFile(t, filepath.Join(appDir, "Aptfile"), "# tools the app runs\njq\ntree\n")
	e2ekit.WriteFile(t, filepath.Join(appDir, "Procfile"), `web: echo '{"answer": 42}' | jq .answer && tree --version`+"\n")

	out := e.MustSlipway("build", "aptapp", "--path", appDir, "--builder", builder)
	for _, want := range []string{"Installing jq, tree (Aptfile)", "Installed ", "libjq1", "tree ", "at build: tree v"} {
		if !strings.Contains(out, want) {
			t.Errorf("build output lacks %q:\n%s", want, out)
		}
	}
	s, err := imagestore.Open(e.Store)
	if err != nil {
		t.Fatal(err)
	}
	first := e2ekit.DigestOf(t, s, "aptapp")
	archive := filepath.Join(t.TempDir(), "aptapp.tar")
	e.MustSlipway("save", "aptapp", "-o", archive)
	got := e2ekit.PodmanRun(t, archive, "localhost/aptapp")
	for _, want := range []string{"42\n", "tree v"} {
		if !strings.Contains(got, want) {
			t.Errorf("app printed %q, want %q", got, want)
		}
	}

	out = e.MustSlipway("build", "aptapp", "--path", appDir, "--builder", builder)
	if !strings.Contains(out, "Reusing layer packages") {
		t.Errorf("rebuild did not reuse the packages layer:\n%s", out)
	}
	if again := e2ekit.DigestOf(t, s, "aptapp"); again != first {
		t.Errorf("rebuild changed the digest: %s → %s", first, again)
	}
	e.MustSlipway("build", "aptapp-fresh", "--path", appDir, "--builder", builder, "--clear-cache")
	if fresh := e2ekit.DigestOf(t, s, "aptapp-fresh"); fresh != first {
		t.Errorf("a build from scratch gave %s, the first build %s", fresh, first)
	}

	// An unknown package: the Aptfile line, the name and the repositories searched.
	e2ekit.WriteFile(t, filepath.Join(appDir, "Aptfile"), "jq\nno-such-package-slipway\n")
	out, code := e.Slipway("build", "aptbad", "--path", appDir, "--builder", builder)
	for _, want := range []string{"Aptfile:2", `"no-such-package-slipway"`, "repositories searched: http://deb.debian.org/debian bookworm main"} {
		if code == 0 || !strings.Contains(out, want) {
			t.Errorf("exit %d, output lacks %q:\n%s", code, want, out)
		}
	}
}
