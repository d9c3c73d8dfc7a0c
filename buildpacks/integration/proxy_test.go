package integration

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

const upstream = "https://registry.npmjs.org"

// cachingRegistry is an npm registry mirror on 127.0.0.1 that forwards to the public
// registry once per URL and keeps the answers on disk across test runs, so the tests
// download Node.js once. It also exercises BP_NPM_REGISTRY, the setting air-gapped users
// point at their own mirror.
func cachingRegistry(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(os.TempDir(), "slipway-buildpacks-test-registry")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		accept := r.Header.Get("Accept")
		if !strings.Contains(accept, "vnd.npm.install-v1") {
			accept = "application/json"
		}
		if strings.HasSuffix(r.URL.Path, ".tgz") {
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
			tmp := file + ".tmp"
			if os.WriteFile(tmp, body, 0o644) == nil {
				os.Rename(tmp, file)
			}
		}
		if !strings.HasSuffix(r.URL.Path, ".tgz") {
			w.Header().Set("Content-Type", "application/json")
			body = bytes.ReplaceAll(body, []byte(upstream+"/"), []byte(srv.URL+"/"))
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
