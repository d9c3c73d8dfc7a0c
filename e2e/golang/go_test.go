package golang

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/slipway/slipway/internal/e2ekit"
	"github.com/slipway/slipway/internal/goproxymirror"
	"github.com/slipway/slipway/internal/testimages"
)

// The Go toolchain every test app resolves to (go-service names it; the others' go lines
// pick the newest 1.26 release of the cached proxy listing), so one ~70 MB download is
// shared by all tests and later runs are offline.
const goTestToolchain = "1.26.11"

// goBuilder is the default builder's Go group on the test images.
func goBuilder(e *e2ekit.Env) string {
	return e2ekit.OurBuilder(e.T, e2ekit.BuildImageName, e2ekit.RunImageName, true, "slipway/go")
}

// goProxy starts the caching module proxy over the shared cache (toolchain zips, modules and
// checksum database answers fetched once per machine).
func goProxy(t *testing.T) (*goproxymirror.Handler, string) {
	t.Helper()
	return goproxymirror.Start(t, filepath.Join(testimages.CacheDir(t), "goproxy"))
}

// downServer is an address on 127.0.0.1 where nothing listens: the official downloads as
// seen from a network that cannot reach them.
func downServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/dl"
}

var (
	networkOnce sync.Once
	networkHost []string
)

// hostNetwork is `--network host` when this slipway has the flag (the sandbox gets a private
// network namespace by default, which cannot reach the proxy on 127.0.0.1).
func hostNetwork(e *e2ekit.Env) []string {
	networkOnce.Do(func() {
		out, _ := e.Slipway("build", "--help")
		if strings.Contains(out, "--network") {
			networkHost = []string{"--network", "host"}
		}
	})
	return networkHost
}

// goBuildArgs is a build of app with the Go builder, the proxy as GOPROXY and GOSUMDB read
// through it, and the official downloads pointed at official.
func goBuildArgs(e *e2ekit.Env, name, app, builder, proxy, official string, extra ...string) []string {
	args := []string{"build", name, "--path", app, "--builder", builder,
		"--env", "GOPROXY=" + proxy, "--env", "GOSUMDB=sum.golang.org",
		"--env", "BP_GO_DOWNLOAD_URL=" + official}
	args = append(args, hostNetwork(e)...)
	for _, kv := range extra {
		args = append(args, "--env", kv)
	}
	return args
}

func copyGoApp(t *testing.T, name string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), name)
	if out, err := exec.Command("cp", "-a", filepath.Join(e2ekit.RepoRoot, "e2e", "testdata", "apps", name), dst).CombinedOutput(); err != nil {
		t.Fatalf("copy app: %v\n%s", err, out)
	}
	return dst
}

// httpGetIn starts the image's process (through /cnb/process/<type>, as the image would run
// it) in a container and fetches http://127.0.0.1:8080/ from inside with bash's /dev/tcp.
func httpGetIn(t *testing.T, archive, image, process string) string {
	t.Helper()
	script := `/cnb/process/` + process + ` & pid=$!
for i in $(seq 40); do
  sleep 0.25
  if (exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET / HTTP/1.0\r\nHost: x\r\n\r\n' >&3 && cat <&3) 2>/dev/null; then kill $pid; exit 0; fi
done
kill $pid; exit 1`
	return e2ekit.PodmanExec(t, archive, image, "/bin/bash", "-c", script)
}

// imageFiles lists every file path in the stored image's layers and adds up the entries'
// sizes.
func imageFiles(t *testing.T, store, name string) ([]string, int64) {
	t.Helper()
	var out []string
	var size int64
	e2ekit.WalkImage(t, e2ekit.StoredImage(t, store, name), func(h *tar.Header, _ io.Reader) {
		out = append(out, strings.TrimPrefix(h.Name, "/"))
		size += h.Size
	})
	return out, size
}

func goContains(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, got)
		}
	}
}

var cacheLayerLine = regexp.MustCompile(`cache layer (\S+): (.*?) (sha256:[0-9a-f]+)`)

// cacheLayers maps each cache layer in verbose build output to its diffID and reason.
func cacheLayers(out string) map[string][2]string {
	m := map[string][2]string{}
	for _, s := range cacheLayerLine.FindAllStringSubmatch(out, -1) {
		m[s[1]] = [2]string{s[3], s[2]}
	}
	return m
}

// A service with go.mod and one dependency from the module proxy: the toolchain comes from
// the proxy's golang.org/toolchain module, checked against the real checksum database
// (through the proxy), the official downloads being unreachable. The image holds the
// binary and BP_KEEP_FILES, no source, no toolchain, and answers HTTP. Edit one file and
// rebuild: no module is downloaded again, the toolchain cache layer is reused as it was,
// and only the binaries layer of the image changes.
func TestGoServiceWithModule(t *testing.T) {
	t.Parallel()
	e := e2ekit.NewEnv(t)
	builder := goBuilder(e)
	mirror, proxy := goProxy(t)
	app := copyGoApp(t, "go-service")
	official := downServer(t)
	args := append(goBuildArgs(e, "gosvc", app, builder, proxy, official, "BP_KEEP_FILES=static/*"), "-v")
	out := e.MustSlipway(args...)
	goContains(t, "build output", out,
		"official downloads "+official+": unreachable",
		"Go "+goTestToolchain+" (go.mod toolchain line "+goTestToolchain+") from module proxy "+proxy,
		"checked golang.org/toolchain@v0.0.1-go"+goTestToolchain+".linux-amd64 against checksum database sum.golang.org: h1:",
		"example.com/go-service → go-service",
		"Process web: go-service",
		"Successfully built image gosvc")
	first := e2ekit.ImageLayers(t, e.Store, "gosvc")
	firstCache := cacheLayers(out)

	files, _ := imageFiles(t, e.Store, "gosvc")
	paths := strings.Join(files, "\n")
	goContains(t, "image files", paths, "layers/slipway_go/binaries/bin/go-service", "workspace/static/index.html")
	for _, bad := range []string{"workspace/main.go", "workspace/go.mod", "workspace/version.go", "bin/gofmt", "pkg/tool/linux_amd64/compile", "go-mod-cache"} {
		if strings.Contains(paths, bad) {
			t.Errorf("image contains %s (source, toolchain or caches must not reach it)", bad)
		}
	}

	archive := filepath.Join(t.TempDir(), "gosvc.tar")
	e.MustSlipway("save", "gosvc", "-o", archive)
	got := httpGetIn(t, archive, "localhost/gosvc", "web")
	goContains(t, "answer", got, "hello from go-service be411957-61fe-5cbc-b2fe-1f5b49e708b9", "release 1 on go"+goTestToolchain, "static page kept")

	// One-file change, rebuild.
	if err := os.WriteFile(filepath.Join(app, "version.go"), []byte("package main\n\nconst release = \"2\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mirror.Reset()
	out = e.MustSlipway(args...)
	goContains(t, "rebuild output", out, "Reusing Go "+goTestToolchain+" layer")
	for _, p := range mirror.Hits() {
		if goproxymirror.IsModuleDownload(p) || strings.HasSuffix(p, ".zip") {
			t.Errorf("rebuild downloaded %s again (module cache or toolchain not reused)", p)
		}
	}
	secondCache := cacheLayers(out)
	var goLayer string
	for name := range firstCache {
		if strings.HasSuffix(name, "go:go") || strings.HasSuffix(name, "go/go") {
			goLayer = name
		}
	}
	if goLayer == "" {
		t.Fatalf("no toolchain cache layer in the verbose output:\n%s", out)
	}
	if firstCache[goLayer][0] != secondCache[goLayer][0] || !strings.HasPrefix(secondCache[goLayer][1], "reused") {
		t.Errorf("toolchain cache layer %s: %v then %v; want reused with the same diffID", goLayer, firstCache[goLayer], secondCache[goLayer])
	}
	// The build cache only grew by the objects of the change: it keeps its tar, and the
	// mod cache is untouched. The kept static/ slice is reused without a tar, although the
	// buildpack deleted the sources beside it and the workspace sync put them back.
	if r := secondCache["slipway/go:go-build-cache"][1]; !strings.HasPrefix(r, "kept its tar") {
		t.Errorf("build cache layer on the rebuild: %q; want its tar kept\n%s", r, out)
	}
	if r := secondCache["slipway/go:go-mod-cache"][1]; !strings.HasPrefix(r, "reused") {
		t.Errorf("module cache layer on the rebuild: %q; want reused", r)
	}
	goContains(t, "rebuild output", out, "layer slice-1: reused (unchanged)")
	second := e2ekit.ImageLayers(t, e.Store, "gosvc")
	if len(first) != len(second) {
		t.Fatalf("layer count %d → %d", len(first), len(second))
	}
	var changed []int
	for i := range first {
		if first[i] != second[i] {
			changed = append(changed, i)
		}
	}
	if len(changed) != 1 {
		t.Fatalf("changed layers %v of %d; want exactly the binaries layer", changed, len(first))
	}
	e.MustSlipway("save", "gosvc", "-o", archive)
	goContains(t, "answer after the rebuild", httpGetIn(t, archive, "localhost/gosvc", "web"), "release 2 on go"+goTestToolchain)
}

// A main.go with no go.mod builds as a single-module program; BP_GO_VERSION picks the
// toolchain by language version; the official downloads answer 404.
func TestGoWithoutGoMod(t *testing.T) {
	t.Parallel()
	e := e2ekit.NewEnv(t)
	builder := goBuilder(e)
	_, proxy := goProxy(t)
	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	out := e.MustSlipway(goBuildArgs(e, "gonomod", copyGoApp(t, "go-nomod"), builder, proxy, notFound.URL, "BP_GO_VERSION=1.26")...)
	goContains(t, "build output", out, "404 Not Found", "No go.mod: building the app root as module \"app\"",
		"Go "+goTestToolchain+" (BP_GO_VERSION 1.26) from module proxy", "Process web: app")
	archive := filepath.Join(t.TempDir(), "gonomod.tar")
	e.MustSlipway("save", "gonomod", "-o", archive)
	goContains(t, "answer", httpGetIn(t, archive, "localhost/gonomod", "web"), "hello from a go.mod-less program on go"+goTestToolchain)
}

// Two main packages under ./cmd become two binaries and processes (api is web); a Procfile
// would win, but there is none.
func TestGoTwoTargets(t *testing.T) {
	t.Parallel()
	e := e2ekit.NewEnv(t)
	builder := goBuilder(e)
	_, proxy := goProxy(t)
	out := e.MustSlipway(goBuildArgs(e, "gomulti", copyGoApp(t, "go-multi"), builder, proxy, downServer(t))...)
	goContains(t, "build output", out, "Go "+goTestToolchain+" (go.mod go line 1.26.1)",
		"example.com/multi/cmd/api → api, example.com/multi/cmd/worker → worker",
		"Process web: api", "Process api: api", "Process worker: worker")
	archive := filepath.Join(t.TempDir(), "gomulti.tar")
	e.MustSlipway("save", "gomulti", "-o", archive)
	goContains(t, "web answer", httpGetIn(t, archive, "localhost/gomulti", "web"), "hello from api")
	goContains(t, "api answer", httpGetIn(t, archive, "localhost/gomulti", "api"), "hello from api")
	goContains(t, "worker output", e2ekit.PodmanExec(t, archive, "localhost/gomulti", "/cnb/process/worker"), "hello from worker")
}

// A vendored app builds its modules from vendor/ only: the first build (which installs the
// toolchain) asks the proxy for no module, and a rebuild with the proxy gone (and the
// sandbox's default network) succeeds.
func TestGoVendoredOffline(t *testing.T) {
	t.Parallel()
	e := e2ekit.NewEnv(t)
	builder := goBuilder(e)
	mirror, proxy := goProxy(t)
	app := copyGoApp(t, "go-vendor")
	// vendor/ is made here (the host's go, through the mirror) rather than kept in the repo.
	cmd := exec.Command("go", "mod", "vendor")
	cmd.Dir = app
	cmd.Env = append(os.Environ(), "GOPROXY="+proxy, "GOFLAGS=-mod=mod -modcacherw", "GOTOOLCHAIN=local", "GOMODCACHE="+filepath.Join(t.TempDir(), "mod"))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go mod vendor: %v\n%s", err, b)
	}
	mirror.Reset()
	official := downServer(t)
	args := goBuildArgs(e, "govendor", app, builder, proxy, official)
	out := e.MustSlipway(args...)
	goContains(t, "build output", out, "Using vendor/ (-mod=vendor, GOPROXY=off)")
	for _, p := range mirror.Hits() {
		if goproxymirror.IsModuleDownload(p) {
			t.Errorf("vendored build asked the proxy for %s", p)
		}
	}

	// Cut off: the proxy is gone and the sandbox keeps its default network. The go line
	// needs the toolchain listing, which is unreachable, so the cached toolchain that meets
	// it is kept; the modules come from vendor/.
	e2ekit.WriteFile(t, filepath.Join(app, "extra.go"), "package main\n\nvar _ = 1\n")
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	offline := []string{"build", "govendor", "--path", app, "--builder", builder,
		"--env", "GOPROXY=" + dead.URL, "--env", "BP_GO_DOWNLOAD_URL=" + official}
	out = e.MustSlipway(offline...)
	goContains(t, "offline build output", out, "no Go toolchain source is reachable; keeping the cached Go "+goTestToolchain, "Using vendor/")
	archive := filepath.Join(t.TempDir(), "govendor.tar")
	e.MustSlipway("save", "govendor", "-o", archive)
	goContains(t, "answer", httpGetIn(t, archive, "localhost/govendor", "web"), "hello from go-vendor b18656c3-4b5d-501a-87b8-3b7085544a86", "on go"+goTestToolchain)
}

// Each bad input fails the build with a message that says what is wrong. The cases share
// one image name, so the toolchain installed by the first build is restored from the cache
// for the others.
func TestGoErrors(t *testing.T) {
	t.Parallel()
	e := e2ekit.NewEnv(t)
	builder := goBuilder(e)
	_, proxy := goProxy(t)
	official := downServer(t)
	build := func(app string, extra ...string) (string, int) {
		return e.Slipway(goBuildArgs(e, "goerr", app, builder, proxy, official, extra...)...)
	}
	// Seed the cache with the toolchain.
	if out, code := build(copyGoApp(t, "go-multi")); code != 0 {
		t.Fatalf("seed build: exit %d\n%s", code, out)
	}
	withFiles := func(app string, files map[string]string) string {
		dir := copyGoApp(t, app)
		for f, content := range files {
			e2ekit.WriteFile(t, filepath.Join(dir, f), content)
		}
		return dir
	}
	withFile := func(app, file, content string) string { return withFiles(app, map[string]string{file: content}) }
	cases := []struct {
		name  string
		app   string
		env   []string
		wants []string
	}{
		{"compile error", withFile("go-multi", "cmd/api/broken.go", "package main\n\nfunc broken() int {\n\treturn \"x\"\n}\n"), nil,
			[]string{"cmd/api/broken.go:4:9: cannot use \"x\"", "go build failed"}},
		{"missing module", withFiles("go-multi", map[string]string{
			"go.mod":             "module example.com/multi\n\ngo 1.26.1\n\nrequire example.com/slipway-no-such-module v1.0.0\n",
			"cmd/api/missing.go": "package main\n\nimport _ \"example.com/slipway-no-such-module\"\n",
		}), []string{"GOFLAGS=-mod=mod"},
			[]string{"example.com/slipway-no-such-module@v1.0.0", "404 Not Found", "(module proxy: GOPROXY=" + proxy + ")"}},
		{"go line newer than any toolchain", withFile("go-multi", "go.mod", "module example.com/multi\n\ngo 1.99\n"), nil,
			[]string{"no Go toolchain from module proxy " + proxy + " (golang.org/toolchain) matches go.mod go line 1.99; available: 1.27.", ", 1.26.11, "}},
		{"target not main", copyGoApp(t, "go-multi"), []string{"BP_GO_TARGETS=./cmd/api:./internal/greet"},
			[]string{"BP_GO_TARGETS: ./internal/greet is package greet (example.com/multi/internal/greet), not a main package"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, code := build(tc.app, tc.env...)
			if code == 0 {
				t.Fatalf("build passed:\n%s", out)
			}
			goContains(t, "build output", out, tc.wants...)
		})
	}
}

// A proxy that serves other bytes for the toolchain than the checksum database records is
// refused: the zip is never unpacked.
func TestGoToolchainChecksumMismatch(t *testing.T) {
	t.Parallel()
	e := e2ekit.NewEnv(t)
	builder := goBuilder(e)
	mirror, _ := goProxy(t)
	zipPath := "/golang.org/toolchain/@v/v0.0.1-go" + goTestToolchain + ".linux-amd64.zip"
	tampered := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == zipPath {
			w.Write(fakeToolchainZip(t, goTestToolchain))
			return
		}
		mirror.ServeHTTP(w, r)
	}))
	defer tampered.Close()
	out, code := e.Slipway(goBuildArgs(e, "gotamper", copyGoApp(t, "go-service"), builder, tampered.URL, downServer(t))...)
	if code == 0 {
		t.Fatalf("build with a tampered toolchain passed:\n%s", out)
	}
	goContains(t, "build output", out, "checksum mismatch for golang.org/toolchain@v0.0.1-go"+goTestToolchain+".linux-amd64", "checksum database sum.golang.org records h1:", "refusing to install it")
}

// fakeToolchainZip is a well-formed golang.org/toolchain module zip whose contents are not
// the real toolchain's.
func fakeToolchainZip(t *testing.T, v string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	prefix := "golang.org/toolchain@v0.0.1-go" + v + ".linux-amd64/"
	for name, body := range map[string]string{"go.mod": "module golang.org/toolchain\n", "bin/go": "#!/bin/sh\necho pwned\n"} {
		w, err := zw.Create(prefix + name)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, body)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
