package goproxymirror

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Upstream is the proxy the mirror fetches from.
const Upstream = "https://proxy.golang.org"

// Start runs a mirror over the shared cache dir for the duration of t and returns it.
func Start(t testing.TB, cacheDir string) (*Handler, string) {
	t.Helper()
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		t.Fatal(err)
	}
	h := &Handler{Cache: cacheDir, Upstream: Upstream}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, srv.URL
}

// Handler answers GETs from Cache, else from Upstream once, keeping 200 answers and the
// proxy's "not found" answers (400, 404, 410) so reruns are offline and repeatable.
type Handler struct {
	Cache, Upstream string

	mu   sync.Mutex
	hits []string
}

// Hits returns the paths asked for since the last Reset, in order.
func (h *Handler) Hits() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.hits...)
}

// Reset forgets the recorded hits.
func (h *Handler) Reset() {
	h.mu.Lock()
	h.hits = nil
	h.mu.Unlock()
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h.mu.Lock()
	h.hits = append(h.hits, r.URL.Path)
	h.mu.Unlock()
	sum := sha256.Sum256([]byte(r.URL.Path))
	file := filepath.Join(h.Cache, hex.EncodeToString(sum[:]))
	if serveCached(w, r, file) {
		return
	}
	if err := h.fetch(r, file); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if !serveCached(w, r, file) {
		http.Error(w, "mirror: cache write lost", http.StatusInternalServerError)
	}
}

// serveCached answers from file (200) or file.gone (404 with the upstream's message).
func serveCached(w http.ResponseWriter, r *http.Request, file string) bool {
	if b, err := os.ReadFile(file + ".gone"); err == nil {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		w.Write(b)
		return true
	}
	f, err := os.Open(file)
	if err != nil {
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	http.ServeContent(w, r, "", fi.ModTime(), f)
	return true
}

// fetch streams the upstream answer into file (or file.gone) through a temp file.
func (h *Handler) fetch(r *http.Request, file string) error {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, h.Upstream+r.URL.Path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("mirror: %w", err)
	}
	defer resp.Body.Close()
	dst := file
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound, http.StatusGone, http.StatusBadRequest:
		// The proxy's ways of saying a module or version does not exist (it answers 400 for
		// some invalid paths); kept and served as 404, which the go command reads as "not found".
		dst = file + ".gone"
	default:
		return fmt.Errorf("mirror: upstream %s: %s", req.URL, resp.Status)
	}
	tmp, err := os.CreateTemp(h.Cache, ".part-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, resp.Body); err != nil {
		tmp.Close()
		return fmt.Errorf("mirror: read %s: %w", req.URL, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

// IsModuleDownload reports whether a proxy path fetches a module's files (.info, .mod,
// .zip, list) other than a Go toolchain, the requests a warm rebuild must not make.
func IsModuleDownload(path string) bool {
	return strings.Contains(path, "/@v/") && !strings.HasPrefix(path, "/golang.org/toolchain/") ||
		strings.HasSuffix(path, "/@latest")
}
