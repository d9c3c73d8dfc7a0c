package testkit

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
)

// Registry is go-containerregistry's in-process registry served on 127.0.0.1, recording every
// request and answering the ones Fail picks with an error status.
type Registry struct {
	// Host is "127.0.0.1:port", the registry part of image references.
	Host string

	inner http.Handler
	mu    sync.Mutex
	seen  []Request
	fail  func(*http.Request) int
}

// Request is one request the registry saw.
type Request struct {
	Method, Path, Query string
	Authorization       string
}

// String is "METHOD path?query".
func (r Request) String() string { return r.Method + " " + r.Path + "?" + r.Query }

// Kind is what the request is about: "uploads", "blobs", "manifests" or "ping".
func (r Request) Kind() string {
	switch {
	case strings.Contains(r.Path, "/blobs/uploads"):
		return "uploads"
	case strings.Contains(r.Path, "/blobs/"):
		return "blobs"
	case strings.Contains(r.Path, "/manifests/"):
		return "manifests"
	}
	return "ping"
}

// NewRegistry starts a registry for the test and hides the developer's registry credentials
// (HOME, DOCKER_CONFIG, REGISTRY_AUTH_FILE point into a temp dir), so the default keychain
// finds none.
func NewRegistry(t testing.TB) *Registry {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("DOCKER_CONFIG", filepath.Join(dir, "docker"))
	t.Setenv("REGISTRY_AUTH_FILE", filepath.Join(dir, "auth.json"))
	r := &Registry{inner: ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	r.Host = strings.TrimPrefix(srv.URL, "http://")
	return r
}

func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.seen = append(r.seen, Request{Method: req.Method, Path: req.URL.Path, Query: req.URL.RawQuery, Authorization: req.Header.Get("Authorization")})
	fail := r.fail
	r.mu.Unlock()
	if fail != nil {
		if code := fail(req); code != 0 {
			if code == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Basic realm="slipway-test"`)
			}
			http.Error(w, http.StatusText(code), code)
			return
		}
	}
	r.inner.ServeHTTP(w, req)
}

// Fail makes the registry answer every request for which pick returns a non-zero status with
// that status instead of serving it; nil serves everything again.
func (r *Registry) Fail(pick func(*http.Request) int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = pick
}

// Requests returns the requests seen so far whose "METHOD path?query" starts with prefix.
func (r *Registry) Requests(prefix string) []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Request
	for _, q := range r.seen {
		if strings.HasPrefix(q.String(), prefix) {
			out = append(out, q)
		}
	}
	return out
}

// Count counts the requests with this method and Kind.
func (r *Registry) Count(method, kind string) int {
	n := 0
	for _, q := range r.Requests(method + " ") {
		if q.Kind() == kind {
			n++
		}
	}
	return n
}

// Uploads counts the requests that start or carry a blob upload.
func (r *Registry) Uploads() int {
	return r.Count("POST", "uploads") + r.Count("PATCH", "uploads") + r.Count("PUT", "uploads")
}

// UploadedDigests are the digests of the blobs whose upload completed, in order.
func (r *Registry) UploadedDigests() []string {
	var out []string
	for _, q := range r.Requests("PUT ") {
		if q.Kind() == "uploads" {
			for _, kv := range strings.Split(q.Query, "&") {
				if d, ok := strings.CutPrefix(kv, "digest="); ok {
					out = append(out, strings.ReplaceAll(d, "%3A", ":"))
				}
			}
		}
	}
	return out
}

// Reset forgets the requests seen so far.
func (r *Registry) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = nil
}

// Kind is Request.Kind of an incoming request, for Fail functions.
func Kind(r *http.Request) string { return Request{Path: r.URL.Path}.Kind() }
