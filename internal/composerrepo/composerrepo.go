// Package composerrepo serves a Composer repository (getcomposer.org/doc/05-repositories.md:
// a packages.json listing each version inline, with zip dists) on 127.0.0.1, holding
// packages the tests write, so tests never reach Packagist.
package composerrepo

import (
	"archive/zip"
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Package is one version of a package.
type Package struct {
	Name    string            // vendor/name
	Version string            // 1.0.0
	Files   map[string]string // path in the package → content
	Require map[string]string
	// Autoload is the package's autoload section, e.g. {"psr-4": {"Acme\\": "src/"}}.
	Autoload map[string]any
}

// Repo is a running repository.
type Repo struct {
	URL      string
	mu       sync.Mutex
	pkgs     []Package
	zips     map[string][]byte // dist path → zip
	requests atomic.Int64
}

// Start serves pkgs until the test ends.
func Start(t testing.TB, pkgs ...Package) *Repo {
	t.Helper()
	r, stop, err := Serve(pkgs...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return r
}

// Serve serves pkgs on 127.0.0.1 until stop is called (for programs: the benchmark).
func Serve(pkgs ...Package) (r *Repo, stop func(), err error) {
	r = &Repo{zips: map[string][]byte{}}
	srv := httptest.NewServer(http.HandlerFunc(r.serve))
	r.URL = srv.URL
	for _, p := range pkgs {
		if err := r.Add(p); err != nil {
			srv.Close()
			return nil, nil, err
		}
	}
	return r, srv.Close, nil
}

// Add makes p's zip and lists it.
func (r *Repo) Add(p Package) error {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	files := map[string]string{"composer.json": string(must(json.Marshal(r.manifest(p, false))))}
	for k, v := range p.Files {
		files[k] = v
	}
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		w, err := zw.Create(n)
		if err != nil {
			return err
		}
		if _, err := w.Write([]byte(files[n])); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.zips[r.distPath(p)] = buf.Bytes()
	r.pkgs = append(r.pkgs, p)
	return nil
}

func (r *Repo) distPath(p Package) string {
	return "/dists/" + strings.ReplaceAll(p.Name, "/", "-") + "-" + p.Version + ".zip"
}

// manifest is p's metadata as packages.json and composer.lock list it; withDist adds
// where its zip is.
func (r *Repo) manifest(p Package, withDist bool) map[string]any {
	m := map[string]any{"name": p.Name, "version": p.Version, "type": "library"}
	if len(p.Require) > 0 {
		m["require"] = p.Require
	}
	if len(p.Autoload) > 0 {
		m["autoload"] = p.Autoload
	}
	if withDist {
		sum := sha1.Sum(r.zips[r.distPath(p)])
		m["dist"] = map[string]any{"type": "zip", "url": r.URL + r.distPath(p), "shasum": hex.EncodeToString(sum[:])}
	}
	return m
}

// Requests counts the requests served.
func (r *Repo) Requests() int64 { return r.requests.Load() }

func (r *Repo) serve(w http.ResponseWriter, req *http.Request) {
	r.requests.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	if req.URL.Path == "/packages.json" {
		all := map[string]map[string]any{}
		for _, p := range r.pkgs {
			if all[p.Name] == nil {
				all[p.Name] = map[string]any{}
			}
			all[p.Name][p.Version] = r.manifest(p, true)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"packages": all})
		return
	}
	if z, ok := r.zips[req.URL.Path]; ok {
		w.Header().Set("Content-Type", "application/zip")
		w.Write(z)
		return
	}
	http.NotFound(w, req)
}

// Lock is a composer.lock for an app whose composer.json require is the ordered list
// require (name, constraint, name, constraint…), locking pkgs. Its content-hash is the
// one Composer computes for such a composer.json (the MD5 of the JSON of its relevant
// keys, here only require), so composer install takes it as up to date.
func (r *Repo) Lock(require []string, pkgs ...Package) (composerJSON, composerLock string) {
	var parts []string
	var pretty []string
	for i := 0; i+1 < len(require); i += 2 {
		k, _ := json.Marshal(require[i])
		v, _ := json.Marshal(require[i+1])
		// PHP's json_encode escapes slashes.
		parts = append(parts, strings.ReplaceAll(string(k), "/", `\/`)+":"+strings.ReplaceAll(string(v), "/", `\/`))
		pretty = append(pretty, fmt.Sprintf("        %s: %s", k, v))
	}
	hash := md5.Sum([]byte(`{"require":{` + strings.Join(parts, ",") + `}}`))
	composerJSON = "{\n    \"require\": {\n" + strings.Join(pretty, ",\n") + "\n    }\n}\n"
	r.mu.Lock()
	var locked []any
	for _, p := range pkgs {
		locked = append(locked, r.manifest(p, true))
	}
	r.mu.Unlock()
	platform := map[string]string{}
	for i := 0; i+1 < len(require); i += 2 {
		if require[i] == "php" || strings.HasPrefix(require[i], "ext-") {
			platform[require[i]] = require[i+1]
		}
	}
	lock := map[string]any{
		"_readme":            []string{"Written by the test's Composer repository"},
		"content-hash":       hex.EncodeToString(hash[:]),
		"packages":           locked,
		"packages-dev":       []any{},
		"aliases":            []any{},
		"minimum-stability":  "stable",
		"stability-flags":    map[string]any{},
		"prefer-stable":      false,
		"prefer-lowest":      false,
		"platform":           platform,
		"platform-dev":       map[string]any{},
		"plugin-api-version": "2.3.0",
	}
	return composerJSON, string(must(json.MarshalIndent(lock, "", "    "))) + "\n"
}

// Config is a COMPOSER_HOME config.json that makes this repository the only one
// (packagist.org off) and allows its plain-HTTP URL.
func (r *Repo) Config() string {
	return string(must(json.MarshalIndent(map[string]any{
		"config":       map[string]any{"secure-http": false},
		"repositories": []any{map[string]any{"type": "composer", "url": r.URL}, map[string]any{"packagist.org": false}},
	}, "", "  ")))
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
