package build

import (
	"context"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/slipway/slipway/internal/e2ekit"
	"github.com/slipway/slipway/registry"
)

// faultProxy sits on 127.0.0.1 in front of a real registry and answers the requests its rule
// picks with a status code, or by closing the connection (status -1).
type faultProxy struct {
	host string
	mu   sync.Mutex
	rule func(*http.Request) int
}

const closeConn = -1

func startFaultProxy(t *testing.T, upstream string) *faultProxy {
	t.Helper()
	target, _ := url.Parse("http://" + upstream)
	rp := httputil.NewSingleHostReverseProxy(target)
	p := &faultProxy{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.host = l.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		rule := p.rule
		p.mu.Unlock()
		code := 0
		if rule != nil {
			code = rule(r)
		}
		switch {
		case code == closeConn:
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		case code != 0:
			if code == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Basic realm="slipway-e2e"`)
			}
			http.Error(w, http.StatusText(code), code)
		default:
			// Location headers name the upstream; the proxy must stay in the path.
			r.Host = upstream
			rp.ServeHTTP(&hostRewriter{ResponseWriter: w, from: upstream, to: p.host}, r)
		}
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return p
}

func (p *faultProxy) set(rule func(*http.Request) int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rule = rule
}

// hostRewriter rewrites absolute Location headers that point at the upstream registry.
type hostRewriter struct {
	http.ResponseWriter
	from, to string
}

func (h *hostRewriter) WriteHeader(code int) {
	if loc := h.Header().Get("Location"); loc != "" {
		h.Header().Set("Location", strings.Replace(loc, h.from, h.to, 1))
	}
	h.ResponseWriter.WriteHeader(code)
}

func remoteDigest(t *testing.T, ref, insecure string) string {
	t.Helper()
	img, err := registry.Image(context.Background(), ref, registry.Options{Insecure: []string{insecure}})
	if err != nil {
		t.Fatalf("read back %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func isUpload(r *http.Request) bool { return strings.Contains(r.URL.Path, "/blobs/uploads") }

// Issue 3: registry unreachable / 401 / 404 / 500 / dropped connection during
// `slipway build --publish -t …`: a non-zero exit, a message naming the registry and what to
// do, no stack trace, and no tag moved; a transient 500 is retried and the push succeeds.
func TestPublishRegistryFaults(t *testing.T) {
	e := e2ekit.NewEnv(t)
	upstream := e2ekit.StartRegistry(t)
	proxy := startFaultProxy(t, upstream)
	dir := e2ekit.CopyApp(t, "hello")
	ref, tag := proxy.host+"/test/app:v1", proxy.host+"/test/app:stable"
	args := []string{"build", ref, "-t", tag, "--path", dir, "--builder", e.Builder, "--publish", "--insecure-registry", proxy.host}
	out := e.MustSlipway(args...)
	if !strings.Contains(out, "pushed "+proxy.host+"/test/app@sha256:") || !strings.Contains(out, "uploaded") {
		t.Errorf("no upload summary line:\n%s", out)
	}
	published := remoteDigest(t, upstream+"/test/app:v1", upstream)
	if d := remoteDigest(t, upstream+"/test/app:stable", upstream); d != published {
		t.Fatalf("tags differ after the first publish: %s vs %s", published, d)
	}

	cases := []struct {
		name string
		rule func(*http.Request) int
		want []string // in the message
	}{
		{"401 on blob upload", func(r *http.Request) int {
			if isUpload(r) {
				return http.StatusUnauthorized
			}
			return 0
		}, []string{"not authorized", "login " + proxy.host}},
		{"404 on blob upload", func(r *http.Request) int {
			if isUpload(r) {
				return http.StatusNotFound
			}
			return 0
		}, []string{"registry " + proxy.host, "run the build again"}},
		{"500 on every manifest PUT", func(r *http.Request) int {
			if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
				return http.StatusInternalServerError
			}
			return 0
		}, []string{"registry " + proxy.host, "run the build again"}},
		{"connection closed on blob upload", func(r *http.Request) int {
			if isUpload(r) {
				return closeConn
			}
			return 0
		}, []string{proxy.host, "run the build again"}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// A changed app makes a new image, so there is something to upload.
			e2ekit.WriteFile(t, filepath.Join(dir, "hello.txt"), "fault "+c.name)
			proxy.set(c.rule)
			defer proxy.set(nil)
			out, code := e.Slipway(args...)
			if code == 0 {
				t.Fatalf("publish succeeded through %s:\n%s", c.name, out)
			}
			t.Logf("message: %s", out[max(0, strings.Index(out, "error:")):])
			for _, w := range append(c.want, "no tag was changed") {
				if !strings.Contains(out, w) {
					t.Errorf("message lacks %q:\n%s", w, out)
				}
			}
			for _, bad := range []string{"goroutine ", "panic:", ".go:"} {
				if strings.Contains(out, bad) {
					t.Errorf("output has a stack trace (%q):\n%s", bad, out)
				}
			}
			for _, n := range []string{"v1", "stable"} {
				if d := remoteDigest(t, upstream+"/test/app:"+n, upstream); d != published {
					t.Errorf("case %d: tag %s moved to %s, want %s", i, n, d, published)
				}
			}
		})
	}

	t.Run("transient 500 is retried", func(t *testing.T) {
		e2ekit.WriteFile(t, filepath.Join(dir, "hello.txt"), "after the faults")
		var mu sync.Mutex
		failures := 2
		proxy.set(func(r *http.Request) int {
			mu.Lock()
			defer mu.Unlock()
			if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") && failures > 0 {
				failures--
				return http.StatusInternalServerError
			}
			return 0
		})
		defer proxy.set(nil)
		out := e.MustSlipway(args...)
		if failures != 0 {
			t.Fatalf("the fault was never injected (%d left)", failures)
		}
		v1d := remoteDigest(t, upstream+"/test/app:v1", upstream)
		if v1d == published {
			t.Fatalf("tag v1 did not move:\n%s", out)
		}
		if d := remoteDigest(t, upstream+"/test/app:stable", upstream); d != v1d {
			t.Errorf("stable at %s, v1 at %s", d, v1d)
		}
	})
}

// docs/spec-notes.md, Caches --cache-image: a second build (another image name, so nothing is
// materialised locally) restores the cache layers from the registry cache image.
func TestCacheImageRestoresLayers(t *testing.T) {
	e := e2ekit.NewEnv(t)
	reg := e2ekit.StartRegistry(t)
	dir := e2ekit.CopyApp(t, "layers")
	cacheRef := reg + "/test/cache:latest"
	common := []string{"--path", dir, "--builder", e.Builder, "--buildpack", layersBP(), "--cache-image", cacheRef, "--insecure-registry", reg}
	e.MustSlipway(append([]string{"build", "ci-one"}, common...)...)
	if _, err := registry.Image(context.Background(), cacheRef, registry.Options{Insecure: []string{reg}}); err != nil {
		t.Fatalf("no cache image after the first build: %v", err)
	}
	out := e.MustSlipway(append([]string{"-v", "build", "ci-two"}, common...)...)
	if !strings.Contains(out, "restored cache layer test/layers:l-TTT") {
		t.Errorf("no 'restored cache layer' line for l-TTT:\n%s", out)
	}
	if got := e2ekit.Seen(out)["l-TTT"]; got != "toml=yes meta=yes content=yes" {
		t.Errorf("l-TTT restored as %q, want its contents from the cache image", got)
	}
}
