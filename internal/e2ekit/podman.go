package e2ekit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slipway/slipway/internal/mountpoint"
)

// podmanStorage is a throwaway podman storage for one test; it returns podman's global
// flags for it.
func podmanStorage(t *testing.T) []string {
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
	t.Cleanup(func() {
		// A podman killed mid-run (a test timeout) leaves its overlay mounts behind.
		if err := mountpoint.DetachUnder(root); err != nil {
			t.Logf("podman storage %s: %v", root, err)
		}
		os.RemoveAll(root)
	})
	// overlay (what podman users have), not vfs: vfs copies the whole file system once per
	// image layer and again for the container, which made loading and removing the
	// storage most of a podman test's time.
	return []string{"--root", filepath.Join(root, "storage"), "--runroot", filepath.Join(root, "run"),
		"--storage-driver", "overlay", "--cgroup-manager", "cgroupfs", "--events-backend", "none", "--runtime", "runc"}
}

func podmanLoad(t *testing.T, base []string, archive string) {
	t.Helper()
	if out, err := exec.Command("podman", append(base, "load", "-i", archive)...).CombinedOutput(); err != nil {
		t.Fatalf("podman load: %v\n%s", err, out)
	}
}

// PodmanRun loads a docker-archive into a throwaway podman storage and runs image with
// args (its default process unless args say otherwise), returning the container's output.
func PodmanRun(t *testing.T, archive, image string, args ...string) string {
	t.Helper()
	return PodmanRunFlags(t, archive, "", image, nil, args...)
}

// PodmanLaunch runs cmd through the image's launcher (buildpack.md, Launch direct form, so the
// buildpacks' launch env applies, buildpack.md, Launch (environment)) instead of the default process.
func PodmanLaunch(t *testing.T, archive, image string, cmd ...string) string {
	t.Helper()
	return PodmanRunFlags(t, archive, "/cnb/lifecycle/launcher", image, nil, append([]string{"--"}, cmd...)...)
}

// PodmanExec runs entrypoint with args in the image, bypassing the launcher.
func PodmanExec(t *testing.T, archive, image, entrypoint string, args ...string) string {
	t.Helper()
	return PodmanRunFlags(t, archive, entrypoint, image, nil, args...)
}

// PodmanRunFlags runs image from archive with extra `podman run` flags (volumes, env) and
// an entrypoint ("" for the image's own), without network.
func PodmanRunFlags(t *testing.T, archive, entrypoint, image string, flags []string, args ...string) string {
	t.Helper()
	out, code, cmd := podmanRunCode(t, archive, entrypoint, image, flags, args...)
	if code != 0 {
		t.Fatalf("podman %s: exit %d\n%s", cmd, code, out)
	}
	return out
}

// PodmanRunCode is PodmanRunFlags for a container expected to fail: it returns the
// output and the exit code instead of failing the test.
func PodmanRunCode(t *testing.T, archive, entrypoint, image string, flags []string, args ...string) (string, int) {
	t.Helper()
	out, code, _ := podmanRunCode(t, archive, entrypoint, image, flags, args...)
	return out, code
}

func podmanRunCode(t *testing.T, archive, entrypoint, image string, flags []string, args ...string) (string, int, string) {
	t.Helper()
	base := podmanStorage(t)
	podmanLoad(t, base, archive)
	runArgs := append(base, "run", "--rm", "--network", "none")
	if entrypoint != "" {
		runArgs = append(runArgs, "--entrypoint", entrypoint)
	}
	runArgs = append(runArgs, flags...)
	runArgs = append(append(runArgs, image), args...)
	// A server the test did not mean to start must not outlive it.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "podman", runArgs...).CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode(), strings.Join(runArgs, " ")
	}
	if err != nil {
		t.Fatalf("podman %s: %v\n%s", strings.Join(runArgs, " "), err, out)
	}
	return string(out), 0, strings.Join(runArgs, " ")
}

// Container is an image running detached in a throwaway podman storage, on the host
// network so the test reaches $PORT on 127.0.0.1.
type Container struct {
	t    *testing.T
	base []string
	name string
	Port int
}

// PodmanServe loads archive and starts image's default process with PORT set, plus extra
// `podman run` flags.
func PodmanServe(t *testing.T, archive, image string, flags ...string) *Container {
	t.Helper()
	c := &Container{t: t, base: podmanStorage(t), Port: FreePort(t)}
	c.name = "slipway-e2e-" + strconv.Itoa(os.Getpid()) + "-" + strconv.Itoa(c.Port)
	t.Cleanup(func() { exec.Command("podman", append(c.base, "rm", "-f", "-t", "0", c.name)...).Run() })
	podmanLoad(t, c.base, archive)
	args := append(append([]string{}, c.base...), "run", "-d", "--name", c.name, "--network", "host", "-e", fmt.Sprintf("PORT=%d", c.Port))
	args = append(append(args, flags...), image)
	if out, err := exec.Command("podman", args...).CombinedOutput(); err != nil {
		t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return c
}

// Get fetches / until the app answers (up to 30 s).
func (c *Container) Get() string { return c.GetPath("/") }

// GetPath fetches path until the app answers (up to 30 s) and returns the body.
func (c *Container) GetPath(path string) string {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", c.Port, path))
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return string(b)
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("app did not answer on port %d: %v\nlogs:\n%s", c.Port, err, c.Logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Launch runs cmd in the running container through the image's launcher (so the
// buildpacks' launch env applies), without loading the image a second time.
func (c *Container) Launch(cmd ...string) string {
	c.t.Helper()
	args := append(append([]string{}, c.base...), append([]string{"exec", c.name, "/cnb/lifecycle/launcher", "--"}, cmd...)...)
	out, err := exec.Command("podman", args...).CombinedOutput()
	if err != nil {
		c.t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Logs is the container's output so far.
func (c *Container) Logs() string {
	out, _ := exec.Command("podman", append(c.base, "logs", c.name)...).CombinedOutput()
	return string(out)
}

// Stop runs `podman stop` (SIGTERM, then SIGKILL after 10 s) and returns how long it took
// and the container's exit code: 143 when SIGTERM ended the process (by its handler or its
// default action), 137 when podman had to SIGKILL it.
func (c *Container) Stop() (time.Duration, int) {
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
