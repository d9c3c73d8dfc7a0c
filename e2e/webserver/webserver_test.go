package webserver

import (
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipway/slipway/internal/e2ekit"
)

// TestWebServer runs the package's scenarios in parallel on one store holding the default
// stack and one builder, made once (making it is the slowest step of a first build).
func TestWebServer(t *testing.T) {
	e := e2ekit.DefaultStackEnv(t)
	start := time.Now()
	e.MustSlipway("builder", "create", "web-builder", "--config", webBuilder(t))
	t.Logf("builder: %s", time.Since(start).Round(time.Millisecond))
	var wg sync.WaitGroup
	for _, tc := range []struct {
		name string
		test func(*testing.T, *e2ekit.Env, string)
	}{
		{"StaticSiteNginx", testStaticSiteNginx},
		{"OwnNginxConf", testOwnNginxConf},
		{"OwnHttpdConf", testOwnHttpdConf},
		{"HttpdPushStateHTTPSBasicAuth", testHttpdPushStateHTTPSBasicAuth},
		{"NodeBuildServedByNginx", testNodeBuildServedByNginx},
	} {
		// Concurrently whatever -parallel says: the scenarios mostly wait (on the Debian
		// mirror, podman load, the server), and the package's time is the slowest one's.
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run(tc.name, func(t *testing.T) {
				se := *e
				se.T = t
				tc.test(t, &se, "web-builder")
			})
		}()
	}
	wg.Wait()
}

// webBuilder is the default builder's two web-server groups on the default stack: a
// Node.js build served statically, a Node.js app, then a static site.
func webBuilder(t *testing.T) string {
	t.Helper()
	bps := e2ekit.PackagedBuildpacks(t)
	var b strings.Builder
	for _, id := range []string{"slipway/nodejs", "slipway/web-server", "slipway/procfile"} {
		fmt.Fprintf(&b, "[[buildpacks]]\n  uri = %q\n", bps[id])
	}
	b.WriteString(`
[[order]]
  [[order.group]]
    id = "slipway/nodejs"
    version = "0.1.0"
  [[order.group]]
    id = "slipway/web-server"
    version = "0.1.0"
  [[order.group]]
    id = "slipway/procfile"
    version = "0.1.0"
    optional = true

[[order]]
  [[order.group]]
    id = "slipway/nodejs"
    version = "0.1.0"

[[order]]
  [[order.group]]
    id = "slipway/web-server"
    version = "0.1.0"
  [[order.group]]
    id = "slipway/procfile"
    version = "0.1.0"
    optional = true

[build]
  image = "slipway/build:bookworm"

[[run.images]]
  image = "slipway/run:bookworm"
`)
	path := filepath.Join(t.TempDir(), "builder.toml")
	e2ekit.WriteFile(t, path, b.String())
	return path
}

func buildArgs(name, app, builder string, env ...string) []string {
	args := []string{"build", name, "--path", app, "--builder", builder, "--network", "host"}
	for _, e := range env {
		args = append(args, "--env", e)
	}
	return args
}

// layersOf names the launch layers a buildpack left in the image.
func layersOf(t *testing.T, e *e2ekit.Env, image, bp string) string {
	md := e2ekit.LayerMetadata(t, e.Store, image)
	var out []string
	for _, b := range md.Buildpacks {
		if b.ID == bp {
			for name := range b.Layers {
				out = append(out, name)
			}
		}
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func changedLayers(a, b []string) []int {
	var changed []int
	for i := range a {
		if i >= len(b) || a[i] != b[i] {
			changed = append(changed, i)
		}
	}
	return changed
}

// request is one HTTP request to the container, retried until it answers.
type request struct {
	path   string
	header map[string]string
	user   string // basic auth user:password
}

type response struct {
	status int
	header http.Header
	body   string
}

// do sends r to c without following redirects or decompressing, retrying until the
// server answers (up to 60 s).
func do(t *testing.T, c *e2ekit.Container, r request) response {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", c.Port, r.path), nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range r.header {
			req.Header.Set(k, v)
		}
		if u, p, ok := strings.Cut(r.user, ":"); ok {
			req.SetBasicAuth(u, p)
		}
		resp, err := client.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v\ncontainer output:\n%s", r.path, err, c.Logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// expect checks a response's status and body.
func expect(t *testing.T, c *e2ekit.Container, r request, status int, wants ...string) response {
	t.Helper()
	got := do(t, c, r)
	if got.status != status {
		t.Errorf("GET %s: status %d, want %d\n%s\ncontainer output:\n%s", r.path, got.status, status, got.body, c.Logs())
	}
	for _, w := range wants {
		if !strings.Contains(got.body, w) {
			t.Errorf("GET %s lacks %q:\n%s", r.path, w, got.body)
		}
	}
	return got
}

// htpasswdLine is an htpasswd entry in the {SHA} scheme nginx and httpd both read.
func htpasswdLine(user, password string) string {
	sum := sha1.Sum([]byte(password))
	return user + ":{SHA}" + base64.StdEncoding.EncodeToString(sum[:]) + "\n"
}

func serve(t *testing.T, e *e2ekit.Env, image string, flags ...string) *e2ekit.Container {
	t.Helper()
	archive := filepath.Join(t.TempDir(), "image.tar")
	e.MustSlipway("save", image, "-o", archive)
	return e2ekit.PodmanServe(t, archive, "localhost/"+image, flags...)
}
