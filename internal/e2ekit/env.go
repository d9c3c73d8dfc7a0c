package e2ekit

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
}

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
