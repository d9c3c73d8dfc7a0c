// Package pypiindex is a PEP 503 "simple" package index on 127.0.0.1 for tests, serving
// wheels the tests make: pure-Python packages written by the test, and wheels rebuilt
// from the files and metadata of Debian's python3-* packages. It counts requests, so a
// test can prove a rebuild did not contact the index, and can be told to fail.
package pypiindex

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Wheel is one distribution file of the index.
type Wheel struct {
	Name, Version string // project name as published, version
	File          string // file name
	Data          []byte
}

// Index is a running index.
type Index struct {
	URL string // http://127.0.0.1:PORT/simple

	mu       sync.Mutex
	projects map[string][]Wheel // normalized name → files
	requests atomic.Int64
	status   atomic.Int64 // when not 0, every request answers this status
	auth     atomic.Pointer[[2]string]
	authed   atomic.Int64
	srv      *httptest.Server
}

// Start serves an empty index until the test ends.
func Start(t testing.TB) *Index {
	idx := New()
	t.Cleanup(idx.Close)
	return idx
}

// New serves an empty index until Close, for fixtures shared by several tests.
func New() *Index {
	idx := &Index{projects: map[string][]Wheel{}}
	idx.srv = httptest.NewServer(http.HandlerFunc(idx.serve))
	idx.URL = idx.srv.URL + "/simple"
	return idx
}

// Close stops the server.
func (idx *Index) Close() { idx.srv.Close() }

// Requests is the number of requests served so far.
func (idx *Index) Requests() int64 { return idx.requests.Load() }

// FailWith makes every request answer status (0 restores normal service).
func (idx *Index) FailWith(status int) { idx.status.Store(int64(status)) }

// RequireAuth makes the index answer 401 to every request without these HTTP basic-auth
// credentials, as a private index does.
func (idx *Index) RequireAuth(user, password string) { idx.auth.Store(&[2]string{user, password}) }

// Authorized is the number of requests that carried the required credentials.
func (idx *Index) Authorized() int64 { return idx.authed.Load() }

// Host is host:port of the index.
func (idx *Index) Host() string { return strings.TrimPrefix(idx.srv.URL, "http://") }

// Add publishes wheels.
func (idx *Index) Add(ws ...Wheel) {
	idx.mu.Lock()
	defer idx.mu.Unlock()
	for _, w := range ws {
		n := Normalize(w.Name)
		idx.projects[n] = append(idx.projects[n], w)
	}
}

var normRe = regexp.MustCompile(`[-_.]+`)

// Normalize is the PEP 503 name normalization.
func Normalize(name string) string { return strings.ToLower(normRe.ReplaceAllString(name, "-")) }

func (idx *Index) serve(w http.ResponseWriter, r *http.Request) {
	idx.requests.Add(1)
	if s := idx.status.Load(); s != 0 {
		http.Error(w, "index failure injected by the test", int(s))
		return
	}
	if a := idx.auth.Load(); a != nil {
		if u, p, ok := r.BasicAuth(); !ok || u != a[0] || p != a[1] {
			w.Header().Set("WWW-Authenticate", `Basic realm="slipway test index"`)
			http.Error(w, "credentials required", http.StatusUnauthorized)
			return
		}
		idx.authed.Add(1)
	}
	idx.mu.Lock()
	defer idx.mu.Unlock()
	p := r.URL.Path
	switch {
	case p == "/simple/" || p == "/simple":
		var names []string
		for n := range idx.projects {
			names = append(names, n)
		}
		sort.Strings(names)
		var b strings.Builder
		b.WriteString("<!DOCTYPE html><html><body>\n")
		for _, n := range names {
			fmt.Fprintf(&b, "<a href=\"/simple/%s/\">%s</a>\n", n, n)
		}
		b.WriteString("</body></html>\n")
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(b.String()))
	case strings.HasPrefix(p, "/simple/"):
		name := Normalize(strings.Trim(strings.TrimPrefix(p, "/simple/"), "/"))
		files, ok := idx.projects[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		var b strings.Builder
		fmt.Fprintf(&b, "<!DOCTYPE html><html><body><h1>Links for %s</h1>\n", html.EscapeString(name))
		for _, f := range files {
			sum := sha256.Sum256(f.Data)
			fmt.Fprintf(&b, "<a href=\"/files/%s#sha256=%s\">%s</a><br/>\n", f.File, hex.EncodeToString(sum[:]), f.File)
		}
		b.WriteString("</body></html>\n")
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(b.String()))
	case strings.HasPrefix(p, "/files/"):
		file := strings.TrimPrefix(p, "/files/")
		for _, fs := range idx.projects {
			for _, f := range fs {
				if f.File == file {
					w.Header().Set("Content-Type", "application/octet-stream")
					w.Write(f.Data)
					return
				}
			}
		}
		http.NotFound(w, r)
	default:
		http.NotFound(w, r)
	}
}

// Hash is the "sha256:<hex>" of w, as requirements files and lock files spell it.
func (w Wheel) Hash() string {
	sum := sha256.Sum256(w.Data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Spec describes a wheel to make.
type Spec struct {
	Name, Version string
	// Files maps paths inside the wheel (e.g. "greet/__init__.py") to content.
	Files map[string]string
	// Requires are Requires-Dist lines ("Werkzeug>=2.2").
	Requires []string
	// Metadata, when set, is the METADATA file as is (Requires is then ignored).
	Metadata string
	// EntryPoints is the entry_points.txt content.
	EntryPoints string
}

// Make builds a py3-none-any wheel (PEP 427): the files, then the .dist-info with
// METADATA, WHEEL, entry_points.txt and a RECORD of every file's hash. Entries are
// written in a fixed order with a fixed time, so the same spec gives the same bytes.
func Make(s Spec) (Wheel, error) {
	distName := normRe.ReplaceAllString(s.Name, "_")
	info := distName + "-" + s.Version + ".dist-info/"
	meta := s.Metadata
	if meta == "" {
		var b strings.Builder
		fmt.Fprintf(&b, "Metadata-Version: 2.1\nName: %s\nVersion: %s\n", s.Name, s.Version)
		for _, r := range s.Requires {
			fmt.Fprintf(&b, "Requires-Dist: %s\n", r)
		}
		meta = b.String()
	}
	files := map[string]string{}
	for k, v := range s.Files {
		files[k] = v
	}
	files[info+"METADATA"] = meta
	files[info+"WHEEL"] = "Wheel-Version: 1.0\nGenerator: slipway-pypiindex\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
	if s.EntryPoints != "" {
		files[info+"entry_points.txt"] = s.EntryPoints
	}
	var names []string
	for k := range files {
		names = append(names, k)
	}
	sort.Strings(names)
	var record strings.Builder
	for _, n := range names {
		sum := sha256.Sum256([]byte(files[n]))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", n, base64.RawURLEncoding.EncodeToString(sum[:]), len(files[n]))
	}
	fmt.Fprintf(&record, "%sRECORD,,\n", info)
	names = append(names, info+"RECORD")
	files[info+"RECORD"] = record.String()

	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		h := &zip.FileHeader{Name: n, Method: zip.Deflate}
		h.Modified = fixedTime
		h.SetMode(0o644)
		f, err := zw.CreateHeader(h)
		if err != nil {
			return Wheel{}, err
		}
		if _, err := f.Write([]byte(files[n])); err != nil {
			return Wheel{}, err
		}
	}
	if err := zw.Close(); err != nil {
		return Wheel{}, err
	}
	return Wheel{Name: s.Name, Version: s.Version, File: distName + "-" + s.Version + "-py3-none-any.whl", Data: buf.Bytes()}, nil
}

// fixedTime is the zip entries' time (zip cannot say 1970; 1980 is its epoch).
var fixedTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
