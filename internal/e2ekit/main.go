package e2ekit

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
)

var (
	// SlipwayBin is the static slipway binary with the launcher and the default builder's
	// buildpacks embedded.
	SlipwayBin string
	// RepoRoot is the root of the repository under test.
	RepoRoot string
)

// Main builds slipway (once per worktree, shared by every e2e package of a `go test` run)
// and runs the package's tests.
func Main(m *testing.M) {
	os.Exit(run(m))
}

// MainWith is Main that runs cleanup after the package's tests: for servers the tests of a
// package share (started once, by whichever test needs them first).
func MainWith(m *testing.M, cleanup func()) {
	code := run(m)
	cleanup()
	os.Exit(code)
}

func run(m *testing.M) int {
	_, file, _, _ := runtime.Caller(0)
	RepoRoot = filepath.Dir(filepath.Dir(filepath.Dir(file)))
	if err := buildSlipway(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if sharedWork.dir != "" {
		os.RemoveAll(sharedWork.dir)
	}
	return code
}

// buildSlipway builds into a directory keyed by the worktree, under a lock: e2e packages
// run in parallel and the build writes generated files into the source tree. go build
// leaves an up-to-date output alone, so every package after the first pays only the check.
func buildSlipway() error {
	sum := sha256.Sum256([]byte(RepoRoot))
	dir := filepath.Join(os.TempDir(), "slipway-e2e-"+hex.EncodeToString(sum[:])[:12])
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	lock, err := os.OpenFile(filepath.Join(dir, "build.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	SlipwayBin = filepath.Join(dir, "slipway")
	launcher := filepath.Join(RepoRoot, "internal", "launcherbin", "launcher")
	for _, args := range [][]string{
		{"build", "-trimpath", "-ldflags", "-s -w", "-o", launcher, "./cmd/launcher"},
		{"run", "./internal/defaultbuilder/gen", filepath.Join(RepoRoot, "internal", "defaultbuilder", "buildpacks")},
		{"build", "-trimpath", "-ldflags", "-s -w", "-tags", "embedlauncher,embedassets", "-o", SlipwayBin, "./cmd/slipway"},
	} {
		cmd := exec.Command("go", args...)
		cmd.Dir = RepoRoot
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go %v: %v\n%s", args, err, out)
		}
	}
	return nil
}
