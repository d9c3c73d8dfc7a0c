// Package npmmirror is an npm registry mirror on 127.0.0.1 for tests and benchmarks: it fetches each URL from
// the public registry once and keeps the answer on disk across test runs, so tests
// download Node.js and packages once. Buildpacks reach it as BP_NPM_REGISTRY, the setting
// air-gapped users point at their own mirror.
package npmmirror

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
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

// Package is a package the mirror serves itself instead of the upstream's: a test's own
// tiny stand-in for a large tool (a fake vue-cli-service).
type Package struct {
	Name, Version string
	// Files are the package's files (package/ is prepended); "package.json" is generated
	// when absent, with Bin as its "bin".
	Files map[string]string
	Bin   map[string]string
}

// Start runs the mirror for the duration of t and returns its URL. Answers are kept under
// $SLIPWAY_TEST_CACHE (default /var/tmp/slipway-test-cache)/npm-registry, so Node.js and
// packages are downloaded once per machine; local packages are served from memory.
func Start(t testing.TB, local ...Package) string {
	t.Helper()
	root := os.Getenv("SLIPWAY_TEST_CACHE")
	if root == "" {
		root = "/var/tmp/slipway-test-cache"
	}
	dir := filepath.Join(root, "npm-registry")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	h := &Handler{Cache: dir, Upstream: Upstream}
	for _, p := range local {
		if err := h.AddLocal(p); err != nil {
			t.Fatal(err)
		}
	}
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
	local                 map[string][]localVersion // by package name
}

type localVersion struct {
	version                string
	tarball                []byte
	integrity, shasum, bin string
}

// AddLocal makes the handler serve p itself (packument and tarball, with dist.integrity),
// never asking the upstream for that package name.
func (h *Handler) AddLocal(p Package) error {
	files := map[string]string{}
	for k, v := range p.Files {
		files[k] = v
	}
	if _, ok := files["package.json"]; !ok {
		b, err := json.Marshal(map[string]any{"name": p.Name, "version": p.Version, "bin": p.Bin})
		if err != nil {
			return err
		}
		files["package.json"] = string(b)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: "package/" + name, Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	zw.Close()
	s512 := sha512.Sum512(buf.Bytes())
	s1 := sha1.Sum(buf.Bytes())
	bin, _ := json.Marshal(p.Bin)
	if h.local == nil {
		h.local = map[string][]localVersion{}
	}
	h.local[p.Name] = append(h.local[p.Name], localVersion{version: p.Version, tarball: buf.Bytes(),
		integrity: "sha512-" + base64.StdEncoding.EncodeToString(s512[:]), shasum: hex.EncodeToString(s1[:]), bin: string(bin)})
	return nil
}

// serveLocal answers a local package's packument or tarball.
func (h *Handler) serveLocal(w http.ResponseWriter, r *http.Request) bool {
	name, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/-/")
	vs, ok := h.local[name]
	if !ok {
		return false
	}
	if rest != "" {
		for _, v := range vs {
			if rest == name+"-"+v.version+".tgz" {
				w.Write(v.tarball)
				return true
			}
		}
		http.NotFound(w, r)
		return true
	}
	versions := map[string]any{}
	latest := ""
	for _, v := range vs {
		versions[v.version] = map[string]any{"name": name, "version": v.version, "bin": json.RawMessage(v.bin),
			"dist": map[string]string{"tarball": h.Base + "/" + name + "/-/" + name + "-" + v.version + ".tgz", "integrity": v.integrity, "shasum": v.shasum}}
		latest = v.version
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"name": name, "dist-tags": map[string]string{"latest": latest}, "versions": versions})
	return true
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.serveLocal(w, r) {
		return
	}
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
