package e2ekit

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/slipway/slipway/imagestore"
	"github.com/slipway/slipway/internal/testimages"
)

// Env is one test's isolated slipway: its own store, work dir and base images.
type Env struct {
	T *testing.T
	// Store is the image store (SLIPWAY_STORE), Work the cache and config home.
	Store string
	Work  string
	// Builder is a builder.toml naming the fixture buildpacks and the test images.
	Builder string
	// uid and gid run slipway as that host user when uid is not 0 (AsUser).
	uid, gid int
}

// Unprivileged is the host user rootless runs use: nobody/nogroup.
const Unprivileged = 65534

// The test build and run images every NewEnv store holds.
const (
	BuildImageName = "slipway-test/build:bookworm"
	RunImageName   = "slipway-test/run:bookworm"
)

// NewEnv makes a store holding the test build and run images (from a debootstrap rootfs),
// and a builder.toml naming them with the fixture buildpacks.
func NewEnv(t *testing.T) *Env {
	t.Helper()
	e := EmptyEnv(t)
	build, runImg := testimages.BuildAndRun(t)
	s, err := imagestore.Open(e.Store)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Write(ctx, BuildImageName, build); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(ctx, RunImageName, runImg); err != nil {
		t.Fatal(err)
	}
	e.Builder = filepath.Join(t.TempDir(), "builder.toml")
	bps := Testdata("buildpacks")
	WriteFile(t, e.Builder, fmt.Sprintf(`
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
`, filepath.Join(bps, "hello"), filepath.Join(bps, "procfile"), BuildImageName, RunImageName))
	return e
}

// EmptyEnv is an Env with an empty store and no builder.
func EmptyEnv(t *testing.T) *Env {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("e2e tests need root (bubblewrap user namespaces, debootstrap, podman)")
	}
	return &Env{T: t, Store: filepath.Join(t.TempDir(), "store"), Work: filepath.Join(t.TempDir(), "work")}
}

// Slipway runs the binary with this env's store and work dir; it returns combined output
// and the exit code.
func (e *Env) Slipway(args ...string) (string, int) {
	e.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, SlipwayBin, args...)
	cmd.Env = append(os.Environ(), "SLIPWAY_STORE="+e.Store, "XDG_CACHE_HOME="+e.Work,
		"SLIPWAY_CONFIG="+filepath.Join(e.Work, "config.toml"))
	if e.uid != 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(e.uid), Gid: uint32(e.gid)}}
		cmd.Env = append(cmd.Env, "HOME="+e.Work, "USER=nobody")
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.T.Fatalf("run slipway %v: %v", args, err)
	}
	return out.String(), code
}

// MustSlipway is Slipway failing the test on a non-zero exit.
func (e *Env) MustSlipway(args ...string) string {
	e.T.Helper()
	out, code := e.Slipway(args...)
	if code != 0 {
		e.T.Fatalf("slipway %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// AsUser is this env with slipway run rootless, as the host user uid:gid: the store and
// work dir (with what the test wrote there as root) become that user's, and HOME is the
// work dir.
func (e *Env) AsUser(uid, gid int) *Env {
	e.T.Helper()
	u := *e
	u.uid, u.gid = uid, gid
	u.Reown()
	return &u
}

// Rootless reports whether slipway runs as a non-root user in this env.
func (e *Env) Rootless() bool { return e.uid != 0 }

// Reown gives the store and work dir back to a rootless env's user after the test wrote
// there as root (images written through OpenStore, fixtures).
func (e *Env) Reown() {
	e.T.Helper()
	for _, dir := range []string{e.Store, e.Work} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			e.T.Fatal(err)
		}
		e.handOver(dir)
	}
}

// TempDir is a fresh t.TempDir of the env's test that belongs to the env's user: for
// files slipway must read or write in a rootless run (buildpacks, builder.toml, apps).
func (e *Env) TempDir() string {
	e.T.Helper()
	d := e.T.TempDir()
	e.handOver(d)
	return d
}

// handOver chowns dir's tree to a rootless env's user and makes the directories above it
// that t.TempDir created 0700 traversable.
func (e *Env) handOver(dir string) {
	t := e.T
	t.Helper()
	if e.uid == 0 {
		return
	}
	for p := filepath.Dir(dir); p != filepath.Clean(os.TempDir()) && p != "/" && p != "."; p = filepath.Dir(p) {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, e.uid, e.gid)
	})
	if err != nil {
		t.Fatalf("hand %s to uid %d: %v", dir, e.uid, err)
	}
}

// sharedWork is the work dir ShareWork gives the tests of one package.
var sharedWork struct {
	once sync.Once
	dir  string
	err  error
}

// ShareWork makes e use a work dir shared by the package's tests (removed when they end)
// and returns e. The build image is then unpacked once for all of them instead of once per
// test. App caches live there by image name, so tests sharing it must use distinct names.
func (e *Env) ShareWork() *Env {
	e.T.Helper()
	sharedWork.once.Do(func() { sharedWork.dir, sharedWork.err = os.MkdirTemp("", "slipway-e2e-work-") })
	if sharedWork.err != nil {
		e.T.Fatal(sharedWork.err)
	}
	e.Work = sharedWork.dir
	return e
}

// OpenStore opens this env's image store.
func (e *Env) OpenStore() *imagestore.Store {
	e.T.Helper()
	s, err := imagestore.Open(e.Store)
	if err != nil {
		e.T.Fatal(err)
	}
	return s
}

// NodeBuilder is the default builder's Node.js group on the test images.
func (e *Env) NodeBuilder() string {
	return OurBuilder(e.T, BuildImageName, RunImageName, true, "slipway/nodejs")
}
