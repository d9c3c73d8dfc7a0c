package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/slipway/slipway/imagestore"
	"github.com/slipway/slipway/internal/testimages"
)

var (
	slipwayBin string // the static slipway binary with the launcher embedded
	repoRoot   string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	_, file, _, _ := runtime.Caller(0)
	repoRoot = filepath.Dir(filepath.Dir(file))
	dir, err := os.MkdirTemp("", "slipway-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	slipwayBin = filepath.Join(dir, "slipway")
	launcher := filepath.Join(repoRoot, "internal", "launcherbin", "launcher")
	for _, args := range [][]string{
		{"build", "-trimpath", "-ldflags", "-s -w", "-o", launcher, "./cmd/launcher"},
		{"run", "./internal/defaultbuilder/gen", filepath.Join(repoRoot, "internal", "defaultbuilder", "buildpacks")},
		{"build", "-trimpath", "-ldflags", "-s -w", "-tags", "embedlauncher,embedassets", "-o", slipwayBin, "./cmd/slipway"},
	} {
		cmd := exec.Command("go", args...)
		cmd.Dir = repoRoot
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go %v: %v\n%s", args, err, out)
			return 1
		}
	}
	return m.Run()
}

// env is one test's isolated slipway: its own store, work dir and base images.
type env struct {
	t        *testing.T
	store    string
	work     string
	builder  string // builder.toml
	buildImg string
	runImg   string
}

const (
	buildImageName = "slipway-test/build:bookworm"
	runImageName   = "slipway-test/run:bookworm"
)

// newEnv makes a store holding the test build and run images (from a debootstrap rootfs),
// and a builder.toml naming them with the fixture buildpacks.
func newEnv(t *testing.T) *env {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("e2e tests need root (bubblewrap user namespaces, debootstrap, podman)")
	}
	build, runImg := testimages.BuildAndRun(t)
	e := &env{t: t, store: filepath.Join(t.TempDir(), "store"), work: filepath.Join(t.TempDir(), "work")}
	s, err := imagestore.Open(e.store)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Write(ctx, buildImageName, build); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(ctx, runImageName, runImg); err != nil {
		t.Fatal(err)
	}
	e.builder = filepath.Join(t.TempDir(), "builder.toml")
	bps := filepath.Join(repoRoot, "e2e", "testdata", "buildpacks")
	writeFile(t, e.builder, fmt.Sprintf(`
description = "slipway e2e builder"

[[buildpacks]]
  uri = %q
[[buildpacks]]
  uri = %q

[[order]]
  [[order.group]]
    id = "test/hello"
    version = "1.0.0"

[[order]]
  [[order.group]]
    id = "test/procfile"
    version = "1.0.0"

[build]
  image = %q

[[run.images]]
  image = %q
`, filepath.Join(bps, "hello"), filepath.Join(bps, "procfile"), buildImageName, runImageName))
	return e
}

// slipway runs the binary with this env's store and work dir; it returns combined output
// and the exit code.
func (e *env) slipway(args ...string) (string, int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, slipwayBin, args...)
	cmd.Env = append(os.Environ(), "SLIPWAY_STORE="+e.store, "XDG_CACHE_HOME="+e.work,
		"SLIPWAY_CONFIG="+filepath.Join(e.work, "config.toml"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("run slipway %v: %v", args, err)
	}
	return out.String(), code
}

func (e *env) mustSlipway(args ...string) string {
	e.t.Helper()
	out, code := e.slipway(args...)
	if code != 0 {
		e.t.Fatalf("slipway %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// startRegistry runs the docker-registry binary (Debian's package of the CNCF distribution
// registry) on a free 127.0.0.1 port and returns host:port.
func startRegistry(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Skip("docker-registry not installed (apt-get install docker-registry)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yml")
	writeFile(t, cfg, fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n", filepath.Join(dir, "data"), addr))
	cmd := exec.Command(bin, "serve", cfg)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("registry on %s did not start: %v\n%s", addr, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// podmanRun loads a docker-archive into a throwaway podman storage and runs image with
// args (its default process unless args say otherwise), returning the container's output.
func podmanRun(t *testing.T, archive, image string, args ...string) string {
	t.Helper()
	return podmanRunWith(t, archive, "", image, args...)
}

// podmanLaunch runs cmd through the image's launcher (buildpack.md, Launch direct form, so the
// buildpacks' launch env applies, buildpack.md, Launch (environment)) instead of the default process.
func podmanLaunch(t *testing.T, archive, image string, cmd ...string) string {
	t.Helper()
	return podmanRunWith(t, archive, "/cnb/lifecycle/launcher", image, append([]string{"--"}, cmd...)...)
}

// podmanExec runs entrypoint with args in the image, bypassing the launcher.
func podmanExec(t *testing.T, archive, image, entrypoint string, args ...string) string {
	t.Helper()
	return podmanRunWith(t, archive, entrypoint, image, args...)
}

func podmanRunWith(t *testing.T, archive, entrypoint, image string, args ...string) string {
	t.Helper()
	return podmanRunFlags(t, archive, entrypoint, image, nil, args...)
}

// podmanRunFlags is podmanRunWith with extra `podman run` flags (volumes, env).
func podmanRunFlags(t *testing.T, archive, entrypoint, image string, flags []string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("podman"); err != nil {
		t.Skip("podman not installed")
	}
	// Not t.TempDir(): podman refuses a runroot longer than 50 characters, and test
	// names make those paths long.
	root, err := os.MkdirTemp("", "pod")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	base := []string{"--root", filepath.Join(root, "storage"), "--runroot", filepath.Join(root, "run"),
		"--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "none", "--runtime", "runc"}
	out, err := exec.Command("podman", append(base, "load", "-i", archive)...).CombinedOutput()
	if err != nil {
		t.Fatalf("podman load: %v\n%s", err, out)
	}
	runArgs := append(base, "run", "--rm", "--network", "none")
	if entrypoint != "" {
		runArgs = append(runArgs, "--entrypoint", entrypoint)
	}
	runArgs = append(runArgs, flags...)
	runArgs = append(append(runArgs, image), args...)
	// A server the test did not mean to start must not outlive it.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err = exec.CommandContext(ctx, "podman", runArgs...).CombinedOutput()
	if err != nil {
		t.Fatalf("podman %s: %v\n%s", strings.Join(runArgs, " "), err, out)
	}
	return string(out)
}
