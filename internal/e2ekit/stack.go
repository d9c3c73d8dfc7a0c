package e2ekit

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

	"github.com/slipway/slipway/internal/testimages"
	"github.com/slipway/slipway/stack"
)

// StackEnv is an Env without base images: the stack under test makes them. It returns
// the shared .deb download cache too.
func StackEnv(t *testing.T) (*Env, string) {
	t.Helper()
	e := EmptyEnv(t)
	if _, err := os.Stat("/usr/share/keyrings/debian-archive-keyring.gpg"); err != nil {
		t.Skip("Debian's archive keyring is not installed (apt-get install debian-archive-keyring)")
	}
	return e, filepath.Join(testimages.CacheDir(t), "debs")
}

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
	defaultStack.once.Do(func() { defaultStack.dir, defaultStack.err = makeDefaultStack(testimages.CacheDir(t)) })
	if defaultStack.err != nil {
		t.Fatal(defaultStack.err)
	}
	return defaultStack.dir
}

func makeDefaultStack(cache string) (string, error) {
	h := sha256.New()
	h.Write(stack.DefaultConfig())
	// Keyed by what decides the record buildpacks read; other changes to the stack
	// code still give working images, and rebuilding costs minutes.
	for _, pattern := range []string{"stack/aptrecord.go", "debian/sources.go"} {
		files, _ := filepath.Glob(filepath.Join(RepoRoot, pattern))
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
	// Packages run in parallel: one builds, the others wait and reuse.
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err == nil {
		return dir, nil
	}
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	cmd := exec.Command(SlipwayBin, "stack", "build", "--cache-dir", filepath.Join(cache, "debs"))
	cmd.Env = append(os.Environ(), "SLIPWAY_STORE="+tmp, "XDG_CACHE_HOME="+tmp+"-work")
	out, err := cmd.CombinedOutput()
	os.RemoveAll(tmp + "-work")
	if err != nil {
		return "", fmt.Errorf("slipway stack build: %v\n%s", err, out)
	}
	return dir, os.Rename(tmp, dir)
}

// DefaultStackEnv is an Env whose store holds the default stack (blobs hard-linked from
// the shared layout, so it costs no copy).
func DefaultStackEnv(t *testing.T) *Env {
	t.Helper()
	e := EmptyEnv(t)
	src := defaultStackLayout(t)
	if out, err := exec.Command("cp", "-al", src, e.Store).CombinedOutput(); err != nil {
		t.Fatalf("link the default stack: %v\n%s", err, out)
	}
	// index.json is rewritten by the store (temp + rename), never in place, but copy it
	// anyway so the shared layout's names cannot change.
	os.Remove(filepath.Join(e.Store, "index.json"))
	if out, err := exec.Command("cp", filepath.Join(src, "index.json"), filepath.Join(e.Store, "index.json")).CombinedOutput(); err != nil {
		t.Fatalf("copy index.json: %v\n%s", err, out)
	}
	return e
}
