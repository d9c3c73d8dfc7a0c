package platforms

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipway/slipway/imagestore"
	"github.com/slipway/slipway/internal/e2ekit"
	"github.com/slipway/slipway/internal/npmmirror"
)

// probeBuilder writes a builder.toml with the probe buildpack (its HTTPS client compiled
// for the sandbox) on the test images.
func probeBuilder(e *e2ekit.Env) string {
	t := e.T
	bp := filepath.Join(t.TempDir(), "probe")
	if out, err := exec.Command("cp", "-a", filepath.Join(e2ekit.RepoRoot, "e2e", "testdata", "buildpacks", "probe"), bp).CombinedOutput(); err != nil {
		t.Fatalf("copy probe buildpack: %v\n%s", err, out)
	}
	cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(bp, "bin", "httpsget"), "./e2e/testdata/httpsget")
	cmd.Dir = e2ekit.RepoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build httpsget: %v\n%s", err, out)
	}
	path := filepath.Join(t.TempDir(), "builder.toml")
	e2ekit.WriteFile(t, path, fmt.Sprintf(`
[[buildpacks]]
  uri = %q

[[order]]
  [[order.group]]
    id = "test/probe"
    version = "1.0.0"

[build]
  image = %q

[[run.images]]
  image = %q
`, bp, e2ekit.BuildImageName, e2ekit.RunImageName))
	return path
}

// Issue 10 §3: behind a TLS-inspecting proxy (here an HTTPS server on 127.0.0.1 whose
// certificate a test CA signed) a buildpack's download fails with an unknown-CA error;
// --ca-certificates, or `slipway config ca-certificates` once, makes it succeed without
// touching the build image, and the app image is the same as without the flag.
func TestCACertificates(t *testing.T) {
	e := e2ekit.NewEnv(t)
	caFile, cert := e2ekit.TestCA(t)
	srv := e2ekit.StartTLS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello through the proxy")
	}), cert)
	builder := probeBuilder(e)
	args := []string{"build", "probe", "--path", e2ekit.App("hello"), "--builder", builder, "--network", "host",
		"--env", "PROBE_URL=" + srv.URL}

	out, code := e.Slipway(args...)
	if code == 0 || !strings.Contains(out, "x509: certificate signed by unknown authority") {
		t.Fatalf("without the CA: exit %d, want a failure naming the unknown authority:\n%s", code, out)
	}

	out = e.MustSlipway(append(args, "--ca-certificates", caFile)...)
	e2ekit.MustContain(t, out, "httpsget: 200 OK hello through the proxy",
		"NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt",
		"binding ca-certificates type ca-certificates entries 00-"+filepath.Base(caFile))

	// Persistent: set once, every build trusts it; --unset goes back.
	e2ekit.MustContain(t, e.MustSlipway("config", "ca-certificates", caFile), "CA certificates (1) set")
	if got := strings.TrimSpace(e.MustSlipway("config", "ca-certificates")); got != caFile {
		t.Errorf("config ca-certificates = %q, want %s", got, caFile)
	}
	e2ekit.MustContain(t, e.MustSlipway(args...), "httpsget: 200 OK hello through the proxy")
	e.MustSlipway("config", "ca-certificates", "--unset")
	if out, code := e.Slipway(args...); code == 0 {
		t.Errorf("after --unset the CA is still trusted:\n%s", out)
	}

	// Not PEM: the file is named, for the flag and for the setting; nothing is built.
	bad := filepath.Join(t.TempDir(), "proxy.der")
	e2ekit.WriteFile(t, bad, "\x30\x82\x01\x0a not pem")
	for _, a := range [][]string{append(args, "--ca-certificates", bad), {"config", "ca-certificates", bad}} {
		out, code := e.Slipway(a...)
		if code == 0 || !strings.Contains(out, bad+" is not PEM") {
			t.Errorf("slipway %s: exit %d, want an error naming %s:\n%s", strings.Join(a[:2], " "), code, bad, out)
		}
	}

	// The extra CAs exist only in the sandbox: the image is the one a build without them makes.
	e.MustSlipway("build", "plain", "--path", e2ekit.App("hello"), "--builder", e.Builder)
	e.MustSlipway("build", "trusting", "--path", e2ekit.App("hello"), "--builder", e.Builder, "--ca-certificates", caFile)
	s, _ := imagestore.Open(e.Store)
	if a, b := e2ekit.DigestOf(t, s, "plain"), e2ekit.DigestOf(t, s, "trusting"); a != b {
		t.Errorf("--ca-certificates changed the image digest: %s vs %s", a, b)
	}
	pemBytes, _ := os.ReadFile(caFile)
	line := strings.Split(string(pemBytes), "\n")[2] // a base64 line of the certificate body
	for _, img := range []string{"trusting", "probe"} {
		if found := e2ekit.ImageHolds(t, e2ekit.StoredImage(t, e.Store, img), line, filepath.Base(caFile)); found != "" {
			t.Errorf("image %s: the extra CA (%q) reached the image", img, found)
		}
	}
	// At run time the app trusts them when the platform mounts them as a ca-certificates
	// binding (the launcher adds them to the image's bundle); without one nothing changes.
	archive := filepath.Join(t.TempDir(), "trusting.tar")
	e.MustSlipway("save", "trusting", "-o", archive)
	caBinding := t.TempDir()
	e2ekit.WriteFile(t, filepath.Join(caBinding, "type"), "ca-certificates\n")
	e2ekit.WriteFile(t, filepath.Join(caBinding, "corp.pem"), string(pemBytes))
	show := []string{"--", "bash", "-c", `echo "file=$SSL_CERT_FILE node=$NODE_EXTRA_CA_CERTS"; [ -z "$SSL_CERT_FILE" ] || cat "$SSL_CERT_FILE"`}
	got := e2ekit.PodmanRunFlags(t, archive, "/cnb/lifecycle/launcher", "localhost/trusting",
		[]string{"-v", caBinding + ":/bindings/corp:ro", "-e", "SERVICE_BINDING_ROOT=/bindings"}, show...)
	if !strings.Contains(got, "file=/tmp/slipway-ca-") || !strings.Contains(got, line) {
		t.Errorf("with a ca-certificates binding at run time the process saw:\n%s", got)
	}
	if got := e2ekit.PodmanLaunch(t, archive, "localhost/trusting", show[1:]...); !strings.Contains(got, "file= node=") {
		t.Errorf("without a binding the process saw:\n%s", got)
	}
}

// Issue 10 §3: service bindings (--binding NAME=DIR, or pack's --volume DIR:/platform/bindings/NAME)
// reach buildpacks at SERVICE_BINDING_ROOT and never the image; --volume mounts read-only
// unless :rw and refuses the lifecycle's directories.
func TestBindingsAndVolumes(t *testing.T) {
	e := e2ekit.NewEnv(t)
	builder := probeBuilder(e)
	secret := fmt.Sprintf("s3cr3t-%d", time.Now().UnixNano())
	maven := t.TempDir()
	e2ekit.WriteFile(t, filepath.Join(maven, "type"), "maven\n")
	e2ekit.WriteFile(t, filepath.Join(maven, "secret"), secret)
	npm := t.TempDir()
	e2ekit.WriteFile(t, filepath.Join(npm, "type"), "npmrc")
	e2ekit.WriteFile(t, filepath.Join(npm, ".npmrc"), "//registry.example/:_authToken="+secret)
	vol := t.TempDir()
	e2ekit.WriteFile(t, filepath.Join(vol, "config.txt"), "from the host")

	base := []string{"build", "bound", "--path", e2ekit.App("hello"), "--builder", builder,
		"--binding", "maven=" + maven, "--volume", npm + ":/platform/bindings/npm", "--env", "PROBE_VOLUME=/etc/probe"}
	out := e.MustSlipway(append(base, "--volume", vol+":/etc/probe")...)
	e2ekit.MustContain(t, out, "SERVICE_BINDING_ROOT=/platform/bindings",
		"binding maven type maven entries secret", "binding maven secret "+secret,
		"binding npm type npmrc", "volume says from the host", "volume is read-only")
	bound := e2ekit.StoredImage(t, e.Store, "bound")
	if e2ekit.ImageHolds(t, bound, "probed") == "" {
		t.Fatal("ImageHolds misses the probe layer's content; the checks below would prove nothing")
	}
	if found := e2ekit.ImageHolds(t, bound, secret, "platform/bindings"); found != "" {
		t.Errorf("a binding (%q) reached the image", found)
	}
	if _, err := os.Stat(filepath.Join(vol, "written")); err == nil {
		t.Error("a read-only volume was written")
	}

	// As with a container, :rw lets the sandbox user write only where the directory's
	// permissions let that unprivileged id write; slipway never chowns a user's directory.
	if err := os.Chmod(vol, 0o777); err != nil {
		t.Fatal(err)
	}
	out = e.MustSlipway(append(base, "--volume", vol+":/etc/probe:rw")...)
	e2ekit.MustContain(t, out, "volume is writable")
	if _, err := os.Stat(filepath.Join(vol, "written")); err != nil {
		t.Errorf("rw volume: %v", err)
	}

	for _, tc := range []struct{ flag, value, want string }{
		{"--volume", vol + ":/workspace/config", "managed by the lifecycle"},
		{"--volume", vol + ":/layers", "managed by the lifecycle"},
		{"--binding", "maven=" + vol, "has no `type` file"},
		{"--binding", "Maven=" + maven, "lower-case"},
	} {
		out, code := e.Slipway("build", "bad", "--path", e2ekit.App("hello"), "--builder", builder, tc.flag, tc.value)
		if code == 0 || !strings.Contains(out, tc.flag+" "+tc.value) || !strings.Contains(out, tc.want) {
			t.Errorf("%s %s: exit %d, want an error naming the flag with %q:\n%s", tc.flag, tc.value, code, tc.want, out)
		}
	}
}

// The issue's own failure: a zero-config-style Node.js build whose npm registry is reached
// through TLS interception. Our nodejs buildpack downloads Node.js (Go's TLS) and npm installs
// the dependencies (Node's TLS): both fail on the unknown CA without --ca-certificates and
// both succeed with it.
func TestCACertificatesNodejsHTTPSMirror(t *testing.T) {
	e := e2ekit.NewEnv(t)
	builder := e.NodeBuilder()
	caFile, cert := e2ekit.TestCA(t)
	cache := filepath.Join(os.TempDir(), "slipway-buildpacks-test-registry") // npmmirror.Start's, shared
	if err := os.MkdirAll(cache, 0o755); err != nil {
		t.Fatal(err)
	}
	h := &npmmirror.Handler{Cache: cache, Upstream: npmmirror.Upstream}
	srv := e2ekit.StartTLS(t, h, cert)
	h.Base = srv.URL
	appDir := filepath.Join(t.TempDir(), "app")
	if out, err := exec.Command("cp", "-a", filepath.Join(e2ekit.RepoRoot, "buildpacks", "testdata", "apps", "npm-express"), appDir).CombinedOutput(); err != nil {
		t.Fatalf("copy app: %v\n%s", err, out)
	}
	args := []string{"build", "express", "--path", appDir, "--builder", builder, "--network", "host",
		"--env", "BP_NODE_SOURCE=npm", "--env", "BP_NPM_REGISTRY=" + srv.URL}
	out, code := e.Slipway(args...)
	if code == 0 || !strings.Contains(out, "certificate signed by unknown authority") {
		t.Fatalf("without the CA: exit %d, want an unknown-authority failure:\n%s", code, out)
	}
	out = e.MustSlipway(append(args, "--ca-certificates", caFile)...)
	e2ekit.MustContain(t, out, "Installing Node.js 22.", "Installing node_modules into layer launch-modules", "Successfully built image express")
}

// Issue 10 §4: `go install ./cmd/slipway` (no make, nothing embedded) gives a slipway that
// builds: the launcher is built once from the same source with the user's Go and cached.
func TestGoInstallBuilds(t *testing.T) {
	e := e2ekit.NewEnv(t)
	gobin := t.TempDir()
	cmd := exec.Command("go", "install", "./cmd/slipway")
	cmd.Dir = e2ekit.RepoRoot
	cmd.Env = append(os.Environ(), "GOBIN="+gobin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go install: %v\n%s", err, out)
	}
	run := func(args ...string) string {
		t.Helper()
		c := exec.Command(filepath.Join(gobin, "slipway"), args...)
		c.Env = append(os.Environ(), "SLIPWAY_STORE="+e.Store, "XDG_CACHE_HOME="+e.Work,
			"SLIPWAY_CONFIG="+filepath.Join(e.Work, "config.toml"))
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("installed slipway %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	out := run("build", "installed", "--path", e2ekit.App("hello"), "--builder", e.Builder)
	e2ekit.MustContain(t, out, "Building slipway's launcher and buildpacks", "Successfully built image installed")
	if out := run("build", "installed", "--path", e2ekit.App("hello"), "--builder", e.Builder); strings.Contains(out, "Building slipway's launcher") {
		t.Errorf("second build rebuilt the assets:\n%s", out)
	}
	archive := filepath.Join(t.TempDir(), "installed.tar")
	run("save", "installed", "-o", archive)
	if got := e2ekit.PodmanRun(t, archive, "localhost/installed"); !strings.Contains(got, "Hello, ") {
		t.Errorf("image built by the go-installed slipway printed %q", got)
	}
}
