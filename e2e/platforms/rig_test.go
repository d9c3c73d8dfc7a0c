package platforms

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipway/slipway/imagestore"
	"github.com/slipway/slipway/internal/e2ekit"
	"github.com/slipway/slipway/internal/testimages"
	"github.com/slipway/slipway/registry"
)

func TestMain(m *testing.M) { e2ekit.MainWith(m, shared.close) }

// packVersion is the pack release the interoperability tests build from source.
const packVersion = "v0.40.6"

// rig is what the platform tests share, made once per test binary by the first test that
// needs it: a registry on 127.0.0.1, podman's Docker-compatible service (how pack users
// without Docker run pack), pack itself, and one slipway builder image in the registry whose
// run image is in the registry too.
type rig struct {
	// reg is the registry's host:port.
	reg string
	// dockerHost is the podman service's unix:// socket (DOCKER_HOST).
	dockerHost string
	// podman are podman's global flags for the service's storage, for the podman CLI.
	podman []string
	// registriesConf marks reg insecure (plain HTTP) for podman; containersConf keeps its
	// event log in the rig's directory.
	registriesConf, containersConf string
	pack                           string
	// builder is the builder image; runImage its run image, both in the registry.
	builder, runImage string
	runImg            v1.Image
}

// rigOnce makes the rig once and stops what it started after the package's tests.
type rigOnce struct {
	once sync.Once
	r    *rig
	err  error
	stop []func()
}

var shared rigOnce

func (s *rigOnce) close() {
	for i := len(s.stop) - 1; i >= 0; i-- {
		s.stop[i]()
	}
}

// sharedRig returns the rig, making it on first use.
func sharedRig(t *testing.T) *rig {
	t.Helper()
	e2ekit.EmptyEnv(t) // skips unless root
	if _, err := exec.LookPath("podman"); err != nil {
		t.Skip("podman not installed")
	}
	if _, err := exec.LookPath("docker-registry"); err != nil {
		t.Skip("docker-registry not installed (apt-get install docker-registry)")
	}
	made := false
	shared.once.Do(func() {
		made = true
		shared.r, shared.err = newRig(t)
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	if shared.r == nil {
		t.Fatal(map[bool]string{true: "making the shared rig failed", false: "making the shared rig failed in an earlier test"}[made])
	}
	return shared.r
}

func newRig(t *testing.T) (*rig, error) {
	root, err := os.MkdirTemp("", "slipway-platforms-")
	if err != nil {
		return nil, err
	}
	shared.stop = append(shared.stop, func() { os.RemoveAll(root) })
	r := &rig{pack: packBinary(t)}
	var stop func()
	if r.reg, stop, err = e2ekit.RegistryProcess(mkdir(root, "registry")); err != nil {
		return nil, err
	}
	shared.stop = append(shared.stop, stop)

	build, runImg := testimages.BuildAndRun(t)
	r.runImg = runImg
	r.runImage = r.reg + "/slipway-test/run:bookworm"
	if _, err := registry.Write(context.Background(), r.runImage, runImg, registry.Options{}); err != nil {
		return nil, fmt.Errorf("push run image: %w", err)
	}
	// The builder: the fixture buildpacks on the test build image, run image in the registry.
	store := filepath.Join(root, "store")
	s, err := imagestore.Open(store)
	if err != nil {
		return nil, err
	}
	if _, err := s.Write(context.Background(), e2ekit.BuildImageName, build); err != nil {
		return nil, err
	}
	bps := e2ekit.Testdata("buildpacks")
	config := filepath.Join(root, "builder.toml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`
description = "slipway platforms e2e builder"

[[buildpacks]]
  uri = %q
[[buildpacks]]
  uri = %q

[[order]]
  [[order.group]]
    id = "test/hello"
    version = "1.0.0"
  [[order.group]]
    id = "test/layers"
    version = "1.0.0"
    optional = true

[build]
  image = %q

[[run.images]]
  image = %q
`, filepath.Join(bps, "hello"), filepath.Join(bps, "layers"), e2ekit.BuildImageName, r.runImage)), 0o644); err != nil {
		return nil, err
	}
	r.builder = r.reg + "/slipway-test/builder:1"
	cmd := exec.Command(e2ekit.SlipwayBin, "builder", "create", r.builder, "--config", config, "--publish")
	cmd.Env = append(os.Environ(), "SLIPWAY_STORE="+store, "XDG_CACHE_HOME="+mkdir(root, "work"))
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("slipway builder create: %v\n%s", err, out)
	}

	// podman refuses a runroot longer than 50 characters: keep its paths short.
	pods, err := os.MkdirTemp("", "pods")
	if err != nil {
		return nil, err
	}
	shared.stop = append(shared.stop, func() { os.RemoveAll(pods) })
	r.registriesConf = filepath.Join(pods, "registries.conf")
	if err := os.WriteFile(r.registriesConf, []byte(fmt.Sprintf("unqualified-search-registries = []\n\n[[registry]]\nlocation = %q\ninsecure = true\n", r.reg)), 0o644); err != nil {
		return nil, err
	}
	// The service keeps an event log: its Docker-compatible container wait ("next-exit", how
	// pack waits for each phase) is answered from events, and never returns without them.
	// No default ulimits: a container may not raise RLIMIT_NOFILE above this machine's limit.
	r.containersConf = filepath.Join(pods, "containers.conf")
	if err := os.WriteFile(r.containersConf, []byte(fmt.Sprintf("[containers]\ndefault_ulimits = []\n\n[engine]\nevents_logger = \"file\"\nevents_logfile_path = %q\n", filepath.Join(pods, "events.log"))), 0o644); err != nil {
		return nil, err
	}
	r.podman = []string{"--root", filepath.Join(pods, "storage"), "--runroot", filepath.Join(pods, "run"),
		"--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--runtime", "runc"}
	if r.dockerHost, stop, err = r.podmanService(filepath.Join(pods, "docker.sock")); err != nil {
		return nil, err
	}
	shared.stop = append(shared.stop, stop)
	return r, nil
}

func mkdir(parent, name string) string {
	d := filepath.Join(parent, name)
	os.MkdirAll(d, 0o755)
	return d
}

// podmanService starts podman's Docker-compatible API on sock and returns the DOCKER_HOST value.
func (r *rig) podmanService(sock string) (string, func(), error) {
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "podman", append(append([]string{}, r.podman...), "system", "service", "--time=0", "unix://"+sock)...)
	cmd.Env = r.podmanEnv()
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		cancel()
		return "", nil, err
	}
	stop := func() { cancel(); cmd.Wait() }
	// A loaded machine can take tens of seconds to start it.
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			return "unix://" + sock, stop, nil
		}
	}
	stop()
	return "", nil, fmt.Errorf("podman system service did not create %s:\n%s", sock, logs.String())
}

func (r *rig) podmanEnv() []string {
	return append(os.Environ(), "CONTAINERS_REGISTRIES_CONF="+r.registriesConf, "CONTAINERS_CONF="+r.containersConf)
}

// podmanCmd runs the podman CLI on the service's storage and returns its combined output.
func (r *rig) podmanCmd(t *testing.T, args ...string) string {
	t.Helper()
	out, err := r.podmanRun(t, args...)
	if err != nil {
		t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// podmanRun is podmanCmd returning the error (a container's exit status) instead of failing.
func (r *rig) podmanRun(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "podman", append(append([]string{}, r.podman...), args...)...)
	cmd.Env = r.podmanEnv()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// runPack runs pack against the podman service with its own PACK_HOME.
func (r *rig) runPack(t *testing.T, packHome string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.pack, args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+r.dockerHost, "PACK_HOME="+packHome)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// mustPack is runPack failing the test on an error.
func (r *rig) mustPack(t *testing.T, packHome string, args ...string) string {
	t.Helper()
	out, err := r.runPack(t, packHome, args...)
	if err != nil {
		t.Fatalf("pack %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// helloApp is an app both fixture buildpacks detect: test/hello greets with hello.txt,
// test/layers writes a layer of every build/cache/launch combination from layers.txt.
func helloApp(t *testing.T, greeting, layers string) string {
	t.Helper()
	dir := t.TempDir()
	e2ekit.WriteFile(t, filepath.Join(dir, "hello.txt"), greeting)
	e2ekit.WriteFile(t, filepath.Join(dir, "layers.txt"), layers)
	return dir
}

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
