package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipway/slipway/buildpacks/dist"
	"github.com/slipway/slipway/imagestore"
)

// nodeRegistry is an npm registry mirror on 127.0.0.1 that fetches from the public registry
// once per URL (cached on disk across runs). The buildpacks reach it as BP_NPM_REGISTRY,
// the air-gapped setting; it also keeps Node.js's own TLS (which does not read the host's
// CA store) out of the test.
func nodeRegistry(t *testing.T) string {
	t.Helper()
	const upstream = "https://registry.npmjs.org"
	dir := filepath.Join(os.TempDir(), "slipway-buildpacks-test-registry")
	os.MkdirAll(dir, 0o755)
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		accept := "application/json"
		if strings.Contains(r.Header.Get("Accept"), "vnd.npm.install-v1") {
			accept = "application/vnd.npm.install-v1+json"
		}
		tgz := strings.HasSuffix(r.URL.Path, ".tgz")
		if tgz {
			accept = "*/*"
		}
		sum := sha256.Sum256([]byte(r.URL.Path + "\x00" + accept))
		file := filepath.Join(dir, hex.EncodeToString(sum[:]))
		body, err := os.ReadFile(file)
		if err != nil {
			req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, upstream+r.URL.Path, nil)
			req.Header.Set("Accept", accept)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				w.WriteHeader(resp.StatusCode)
				io.Copy(w, resp.Body)
				return
			}
			if body, err = io.ReadAll(resp.Body); err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			if os.WriteFile(file+".tmp", body, 0o644) == nil {
				os.Rename(file+".tmp", file)
			}
		}
		if !tgz {
			w.Header().Set("Content-Type", "application/json")
			body = bytes.ReplaceAll(body, []byte(upstream+"/"), []byte(srv.URL+"/"))
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// podmanLaunch runs cmd through the image's launcher (so the buildpacks' launch env applies,
// cnb-spec.md §6.4) instead of the default process, bounded by a timeout.
func podmanLaunch(t *testing.T, archive, image string, cmd ...string) string {
	t.Helper()
	if _, err := exec.LookPath("podman"); err != nil {
		t.Skip("podman not installed")
	}
	root := t.TempDir()
	base := []string{"--root", filepath.Join(root, "storage"), "--runroot", filepath.Join(root, "run"),
		"--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "none", "--runtime", "runc"}
	if out, err := exec.Command("podman", append(base, "load", "-i", archive)...).CombinedOutput(); err != nil {
		t.Fatalf("podman load: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := append(append(base, "run", "--rm", "--network", "none", "--entrypoint", "/cnb/lifecycle/launcher", image, "--"), cmd...)
	out, err := exec.CommandContext(ctx, "podman", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// nodeBuilder packages our buildpacks and writes a builder.toml with the test images.
func (e *env) nodeBuilder() string {
	t := e.t
	bps, err := dist.Package(context.Background(), t.TempDir(), dist.Options{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "builder.toml")
	writeFile(t, path, fmt.Sprintf(`
[[buildpacks]]
  uri = %q
[[buildpacks]]
  uri = %q

[[order]]
  [[order.group]]
    id = "slipway/nodejs"
    version = "0.1.0"
  [[order.group]]
    id = "slipway/procfile"
    version = "0.1.0"
    optional = true

[[order]]
  [[order.group]]
    id = "slipway/procfile"
    version = "0.1.0"

[build]
  image = %q

[[run.images]]
  image = %q
`, bps["slipway/nodejs"], bps["slipway/procfile"], buildImageName, runImageName))
	return path
}

func imageLayers(t *testing.T, store, name string) []string {
	t.Helper()
	s, err := imagestore.Open(store)
	if err != nil {
		t.Fatal(err)
	}
	img, err := s.Image(name)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range ls {
		d, _ := l.DiffID()
		out = append(out, d.String())
	}
	return out
}

// The flow: build the express app with our Node.js buildpack in the sandbox, run it
// with podman and fetch a page; edit a source file, rebuild: only the app layer changes and
// node_modules is not reinstalled.
func TestNodejsExpressApp(t *testing.T) {
	e := newEnv(t)
	builder := e.nodeBuilder()
	reg := nodeRegistry(t)
	appDir := filepath.Join(t.TempDir(), "app")
	if out, err := exec.Command("cp", "-a", filepath.Join(repoRoot, "buildpacks", "testdata", "apps", "npm-express"), appDir).CombinedOutput(); err != nil {
		t.Fatalf("copy app: %v\n%s", err, out)
	}
	args := []string{"build", "express", "--path", appDir, "--builder", builder,
		"--env", "BP_NODE_SOURCE=npm", "--env", "BP_NPM_REGISTRY=" + reg}
	start := time.Now()
	out := e.mustSlipway(args...)
	t.Logf("cold build: %s", time.Since(start).Round(time.Millisecond))
	for _, want := range []string{"Installing Node.js 22.", "Installing node_modules into layer launch-modules", "Successfully built image express"} {
		if !strings.Contains(out, want) {
			t.Errorf("build output lacks %q:\n%s", want, out)
		}
	}
	first := imageLayers(t, e.store, "express")

	archive := filepath.Join(t.TempDir(), "express.tar")
	e.mustSlipway("save", "express", "-o", archive)
	got := podmanLaunch(t, archive, "localhost/express", "bash", "-c",
		`node server.js & pid=$!; rc=1; for i in 1 2 3 4 5 6 7 8 9 10; do sleep 0.5; if node -e "require('http').get('http://127.0.0.1:'+process.env.PORT,r=>r.pipe(process.stdout)).on('error',()=>process.exit(1))"; then rc=0; break; fi; done; kill $pid; exit $rc`)
	for _, want := range []string{"hello from express on node v22.", "built with dev deps: true", "dev dep at launch: absent"} {
		if !strings.Contains(got, want) {
			t.Errorf("app answered %q, want %q", got, want)
		}
	}

	writeFile(t, filepath.Join(appDir, "extra.js"), "module.exports = 2\n")
	start = time.Now()
	out = e.mustSlipway(args...)
	t.Logf("rebuild after a source edit: %s", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(out, "Reusing node_modules in layer launch-modules") || strings.Contains(out, "npm ci") {
		t.Errorf("rebuild reinstalled node_modules:\n%s", out)
	}
	second := imageLayers(t, e.store, "express")
	if len(first) != len(second) {
		t.Fatalf("layer count %d → %d", len(first), len(second))
	}
	var changed []int
	for i := range first {
		if first[i] != second[i] {
			changed = append(changed, i)
		}
	}
	// Only the app layer (after the buildpack and SBOM layers, before launcher/config) changes.
	if len(changed) != 1 {
		t.Errorf("changed layers %v of %d; want exactly the app layer", changed, len(first))
	}
}
