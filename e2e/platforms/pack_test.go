package platforms

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slipway/slipway/internal/e2ekit"
	"github.com/slipway/slipway/internal/testimages"
)

// packVersion is the pack release the interoperability tests build from source.
const packVersion = "v0.40.6"

// packBinary returns pack built from its module source at packVersion (the Go module proxy
// serves it and its dependencies), built once per machine and cached.
func packBinary(t *testing.T) string {
	t.Helper()
	cache := filepath.Join(testimages.CacheDir(t), "pack-src")
	bin := filepath.Join(cache, "pack-"+packVersion+".bin")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		t.Fatal(err)
	}
	lock, err := os.OpenFile(filepath.Join(cache, "pack.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	var dl bytes.Buffer
	cmd := exec.Command("go", "mod", "download", "-json", "github.com/buildpacks/pack@"+packVersion)
	cmd.Dir = os.TempDir()
	cmd.Stdout = &dl
	if err := cmd.Run(); err != nil {
		t.Fatalf("go mod download pack: %v\n%s", err, dl.String())
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(dl.Bytes(), &mod); err != nil || mod.Dir == "" {
		t.Fatalf("go mod download pack: no module dir in %s", dl.String())
	}
	// The module cache is read-only: build in a writable copy.
	src := filepath.Join(cache, packVersion+".tmp")
	os.RemoveAll(src)
	if out, err := exec.Command("cp", "-a", mod.Dir, src).CombinedOutput(); err != nil {
		t.Fatalf("copy pack source: %v\n%s", err, out)
	}
	exec.Command("chmod", "-R", "u+w", src).Run()
	tmp := bin + ".tmp"
	build := exec.Command("go", "build", "-trimpath", "-o", tmp, ".")
	build.Dir = src
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build pack %s: %v\n%s", packVersion, err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(src)
	return bin
}

// podmanService starts podman's Docker-compatible API on a unix socket, how pack users
// without Docker run pack, and returns the DOCKER_HOST value.
func podmanService(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("podman"); err != nil {
		t.Skip("podman not installed")
	}
	root, err := os.MkdirTemp("", "pods")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	sock := filepath.Join(root, "docker.sock")
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "podman", "--root", filepath.Join(root, "storage"), "--runroot", filepath.Join(root, "run"),
		"--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "none", "--runtime", "runc",
		"system", "service", "--time=0", "unix://"+sock)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(sock); err == nil {
			return "unix://" + sock
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("podman system service did not create %s:\n%s", sock, logs.String())
	return ""
}

// Issue 10, Proof: pack reads what slipway wrote — `pack builder inspect` a slipway builder
// image and `pack inspect` a slipway-built app image, both in a registry on 127.0.0.1, with
// pack talking to podman's Docker-compatible socket.
func TestPackInspectsSlipwayImages(t *testing.T) {
	e := e2ekit.NewEnv(t)
	pack := packBinary(t)
	reg := e2ekit.StartRegistry(t)
	builderRef := reg + "/slipway-builder"
	appRef := reg + "/app"
	e.MustSlipway("builder", "create", builderRef, "--config", e.Builder, "--publish")
	e.MustSlipway("build", appRef, "--path", e2ekit.App("hello"), "--builder", e.Builder, "--publish")

	packEnv := append(os.Environ(), "DOCKER_HOST="+podmanService(t), "PACK_HOME="+t.TempDir())
	runPack := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(pack, args...)
		cmd.Env = packEnv
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("pack %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	out := runPack("builder", "inspect", builderRef)
	remote := out
	if i := strings.Index(out, "REMOTE:"); i >= 0 {
		remote = out[i:]
	}
	if i := strings.Index(remote, "LOCAL:"); i >= 0 {
		remote = remote[:i]
	}
	e2ekit.MustContain(t, remote, "test/hello", "test/procfile", "Run Images:", e2ekit.RunImageName)
	if strings.Contains(remote, "not present") || strings.Contains(strings.ToLower(remote), "error") {
		t.Errorf("pack could not read the slipway builder:\n%s", out)
	}
	out = runPack("inspect", appRef)
	e2ekit.MustContain(t, out, "REMOTE:", "test/hello", "web", "greet")
}
