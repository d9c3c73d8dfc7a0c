package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/slipway/slipway/imagestore"
	"github.com/slipway/slipway/stack"
)

// defaultStack is the built-in Debian stack (slipway/build:bookworm, slipway/run:bookworm)
// as an OCI layout, made once per machine by `slipway stack build` and kept under the test
// cache, keyed by the stack definition and the code that builds it.
var defaultStack struct {
	once sync.Once
	dir  string
	err  error
}

func defaultStackLayout(t *testing.T) string {
	t.Helper()
	defaultStack.once.Do(func() {
		_, cacheDebs := stackEnv(t)
		cache := filepath.Dir(cacheDebs)
		h := sha256.New()
		h.Write(stack.DefaultConfig())
		// Keyed by what decides the record buildpacks read; other changes to the stack
		// code still give working images, and rebuilding costs minutes.
		for _, pattern := range []string{"stack/aptrecord.go", "debian/sources.go"} {
			files, _ := filepath.Glob(filepath.Join(repoRoot, pattern))
			sort.Strings(files)
			for _, f := range files {
				if strings.HasSuffix(f, "_test.go") {
					continue
				}
				b, _ := os.ReadFile(f)
				fmt.Fprintf(h, "%s %d\n", filepath.Base(f), len(b))
				h.Write(b)
			}
		}
		dir := filepath.Join(cache, "default-stack-"+hex.EncodeToString(h.Sum(nil))[:16])
		if err := os.MkdirAll(cache, 0o755); err != nil {
			defaultStack.err = err
			return
		}
		lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			defaultStack.err = err
			return
		}
		defer lock.Close()
		if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
			defaultStack.err = err
			return
		}
		defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
		defaultStack.dir = dir
		if _, err := os.Stat(filepath.Join(dir, "index.json")); err == nil {
			return
		}
		tmp := dir + ".tmp"
		os.RemoveAll(tmp)
		cmd := exec.Command(slipwayBin, "stack", "build", "--cache-dir", cacheDebs)
		cmd.Env = append(os.Environ(), "SLIPWAY_STORE="+tmp, "XDG_CACHE_HOME="+tmp+"-work")
		out, err := cmd.CombinedOutput()
		os.RemoveAll(tmp + "-work")
		if err != nil {
			defaultStack.err = fmt.Errorf("slipway stack build: %v\n%s", err, out)
			return
		}
		defaultStack.err = os.Rename(tmp, dir)
	})
	if defaultStack.err != nil {
		t.Fatal(defaultStack.err)
	}
	return defaultStack.dir
}

// defaultStackEnv is an env whose store holds the default stack (blobs hard-linked from
// the shared layout, so it costs no copy).
func defaultStackEnv(t *testing.T) *env {
	t.Helper()
	src := defaultStackLayout(t)
	e := &env{t: t, store: filepath.Join(t.TempDir(), "store"), work: filepath.Join(t.TempDir(), "work")}
	if out, err := exec.Command("cp", "-al", src, e.store).CombinedOutput(); err != nil {
		t.Fatalf("link the default stack: %v\n%s", err, out)
	}
	// index.json is rewritten by the store (temp + rename), never in place, but copy it
	// anyway so the shared layout's names cannot change.
	os.Remove(filepath.Join(e.store, "index.json"))
	if out, err := exec.Command("cp", filepath.Join(src, "index.json"), filepath.Join(e.store, "index.json")).CombinedOutput(); err != nil {
		t.Fatalf("copy index.json: %v\n%s", err, out)
	}
	return e
}

// testBuildpack writes a script buildpack (bin/detect passes, bin/build runs script).
func testBuildpack(t *testing.T, id, script string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), strings.ReplaceAll(id, "/", "_"))
	writeFile(t, filepath.Join(dir, "buildpack.toml"), fmt.Sprintf("api = \"0.12\"\n[buildpack]\n  id = %q\n  version = \"1.0.0\"\n[[targets]]\n  os = \"linux\"\n", id))
	writeFile(t, filepath.Join(dir, "bin", "detect"), "#!/bin/sh\nexit 0\n")
	writeFile(t, filepath.Join(dir, "bin", "build"), "#!/bin/bash\nset -euo pipefail\n"+script)
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
	e := defaultStackEnv(t)
	bps := packagedBuildpacks(t)
	check := testBuildpack(t, "test/uses-apt", `echo "at build: $(tree --version | head -1)"; echo "jq at build: $(command -v jq)"`)
	builder := filepath.Join(t.TempDir(), "builder.toml")
	writeFile(t, builder, fmt.Sprintf(`
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
	writeFile(t, filepath.Join(appDir, "Aptfile"), "# tools the app runs\njq\ntree\n")
	writeFile(t, filepath.Join(appDir, "Procfile"), `web: echo '{"answer": 42}' | jq .answer && tree --version`+"\n")

	out := e.mustSlipway("build", "aptapp", "--path", appDir, "--builder", builder)
	for _, want := range []string{"Installing jq, tree (Aptfile)", "Installed ", "libjq1", "tree ", "at build: tree v"} {
		if !strings.Contains(out, want) {
			t.Errorf("build output lacks %q:\n%s", want, out)
		}
	}
	s, err := imagestore.Open(e.store)
	if err != nil {
		t.Fatal(err)
	}
	first := digestOf(t, s, "aptapp")
	archive := filepath.Join(t.TempDir(), "aptapp.tar")
	e.mustSlipway("save", "aptapp", "-o", archive)
	got := podmanRun(t, archive, "localhost/aptapp")
	for _, want := range []string{"42\n", "tree v"} {
		if !strings.Contains(got, want) {
			t.Errorf("app printed %q, want %q", got, want)
		}
	}

	out = e.mustSlipway("build", "aptapp", "--path", appDir, "--builder", builder)
	if !strings.Contains(out, "Reusing layer packages") {
		t.Errorf("rebuild did not reuse the packages layer:\n%s", out)
	}
	if again := digestOf(t, s, "aptapp"); again != first {
		t.Errorf("rebuild changed the digest: %s → %s", first, again)
	}
	e.mustSlipway("build", "aptapp-fresh", "--path", appDir, "--builder", builder, "--clear-cache")
	if fresh := digestOf(t, s, "aptapp-fresh"); fresh != first {
		t.Errorf("a build from scratch gave %s, the first build %s", fresh, first)
	}

	// An unknown package: the Aptfile line, the name and the repositories searched.
	writeFile(t, filepath.Join(appDir, "Aptfile"), "jq\nno-such-package-slipway\n")
	out, code := e.slipway("build", "aptbad", "--path", appDir, "--builder", builder)
	for _, want := range []string{"Aptfile:2", `"no-such-package-slipway"`, "repositories searched: http://deb.debian.org/debian bookworm main"} {
		if code == 0 || !strings.Contains(out, want) {
			t.Errorf("exit %d, output lacks %q:\n%s", code, want, out)
		}
	}
}
