// Package gemsource serves a RubyGems gem source on 127.0.0.1 — the compact index
// Bundler reads (/versions, /info/NAME; guides.rubygems.org/rubygems-org-compact-index-api)
// and the .gem files under /gems/ — holding gems the tests write or rebuild from Debian's
// ruby-* packages, so tests never reach rubygems.org.
package gemsource

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Dep is a runtime dependency: a gem name and a RubyGems requirement (">= 0", "~> 2.2").
type Dep struct {
	Name, Req string
}

// Gem is one version of a gem (platform ruby).
type Gem struct {
	Name, Version string
	Deps          []Dep
	// Files are the gem's files by path (lib/x.rb, ext/x/extconf.rb, bin/tool).
	Files map[string]string
	// Executables are names under BinDir that RubyGems makes binstubs for.
	Executables []string
	// BinDir is where the executables are ("bin" when empty; Bundler's is "exe").
	BinDir string
	// RequirePaths go on the load path when the gem is activated (["lib"] when empty;
	// concurrent-ruby's is lib/concurrent-ruby).
	RequirePaths []string
	// Extensions are extconf.rb paths RubyGems builds at install.
	Extensions []string
}

func (g Gem) bindir() string {
	if g.BinDir == "" {
		return "bin"
	}
	return g.BinDir
}

// File is the gem's file name, NAME-VERSION.gem.
func (g Gem) File() string { return g.Name + "-" + g.Version + ".gem" }

// Source is a running gem source.
type Source struct {
	URL      string
	mu       sync.Mutex
	gems     map[string][]Gem  // by name, in order added
	files    map[string][]byte // .gem by file name
	sums     map[string]string // SHA-256 of each .gem, by file name
	requests atomic.Int64
}

// Start serves gems until the test ends.
func Start(t testing.TB, gems ...Gem) *Source {
	t.Helper()
	s, stop, err := Serve(gems...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return s
}

// Serve serves gems on 127.0.0.1 until stop is called (for programs: the benchmark).
func Serve(gems ...Gem) (s *Source, stop func(), err error) {
	s = &Source{gems: map[string][]Gem{}, files: map[string][]byte{}, sums: map[string]string{}}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = srv.URL
	for _, g := range gems {
		if err := s.Add(g); err != nil {
			srv.Close()
			return nil, nil, err
		}
	}
	return s, srv.Close, nil
}

// Requests counts the requests served so far.
func (s *Source) Requests() int64 { return s.requests.Load() }

// Add builds g's .gem and lists it.
func (s *Source) Add(g Gem) error {
	data, err := Build(g)
	if err != nil {
		return fmt.Errorf("build %s: %w", g.File(), err)
	}
	sum := sha256.Sum256(data)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gems[g.Name] = append(s.gems[g.Name], g)
	s.files[g.File()] = data
	s.sums[g.File()] = hex.EncodeToString(sum[:])
	return nil
}

func (s *Source) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case r.URL.Path == "/versions":
		fmt.Fprint(w, s.versions())
	case r.URL.Path == "/names":
		var names []string
		for n := range s.gems {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(w, "---\n%s\n", strings.Join(names, "\n"))
	case strings.HasPrefix(r.URL.Path, "/info/"):
		name := strings.TrimPrefix(r.URL.Path, "/info/")
		if _, ok := s.gems[name]; !ok {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, s.info(name))
	case strings.HasPrefix(r.URL.Path, "/gems/"):
		data, ok := s.files[strings.TrimPrefix(r.URL.Path, "/gems/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(data)
	default:
		// The older APIs (/api/v1/dependencies, /specs.4.8.gz) are not served: Bundler
		// uses the compact index when /versions answers.
		http.NotFound(w, r)
	}
}

// info is /info/NAME: "---", then one line per version: VERSION DEPS|checksum:SHA256.
func (s *Source) info(name string) string {
	var b strings.Builder
	b.WriteString("---\n")
	for _, g := range s.gems[name] {
		var deps []string
		for _, d := range g.Deps {
			deps = append(deps, d.Name+":"+strings.Join(splitReq(d.Req), "&"))
		}
		fmt.Fprintf(&b, "%s %s|checksum:%s\n", g.Version, strings.Join(deps, ","), s.sums[g.File()])
	}
	return b.String()
}

// versions is /versions: a header, then NAME VERSIONS INFO-MD5 per gem.
func (s *Source) versions() string {
	var names []string
	for n := range s.gems {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("created_at: 2024-01-01T00:00:00Z\n---\n")
	for _, n := range names {
		var vs []string
		for _, g := range s.gems[n] {
			vs = append(vs, g.Version)
		}
		sum := md5.Sum([]byte(s.info(n)))
		fmt.Fprintf(&b, "%s %s %s\n", n, strings.Join(vs, ","), hex.EncodeToString(sum[:]))
	}
	return b.String()
}

func splitReq(req string) []string {
	if strings.TrimSpace(req) == "" {
		return []string{">= 0"}
	}
	var out []string
	for _, p := range strings.Split(req, ",") {
		out = append(out, strings.TrimSpace(p))
	}
	return out
}

// Lockfile is a Gemfile.lock for an app whose Gemfile has `source remote` and depends on
// top (by name, any version), locking every served gem reachable from them (the newest
// version each), as Bundler would write it.
func (s *Source) Lockfile(remote, bundler string, top ...string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	locked := map[string]Gem{}
	var visit func(string)
	visit = func(n string) {
		if _, ok := locked[n]; ok {
			return
		}
		vs := s.gems[n]
		if len(vs) == 0 {
			locked[n] = Gem{Name: n, Version: "1.0.0"} // an unknown gem: locked anyway
			return
		}
		g := vs[len(vs)-1]
		locked[n] = g
		for _, d := range g.Deps {
			visit(d.Name)
		}
	}
	for _, n := range top {
		visit(n)
	}
	var names []string
	for n := range locked {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "GEM\n  remote: %s\n  specs:\n", remote)
	for _, n := range names {
		g := locked[n]
		fmt.Fprintf(&b, "    %s (%s)\n", g.Name, g.Version)
		deps := append([]Dep(nil), g.Deps...)
		sort.Slice(deps, func(i, j int) bool { return deps[i].Name < deps[j].Name })
		for _, d := range deps {
			if r := strings.TrimSpace(d.Req); r != "" && r != ">= 0" {
				fmt.Fprintf(&b, "      %s (%s)\n", d.Name, r)
			} else {
				fmt.Fprintf(&b, "      %s\n", d.Name)
			}
		}
	}
	b.WriteString("\nPLATFORMS\n  ruby\n\nDEPENDENCIES\n")
	sorted := append([]string(nil), top...)
	sort.Strings(sorted)
	for _, n := range sorted {
		fmt.Fprintf(&b, "  %s\n", n)
	}
	fmt.Fprintf(&b, "\nBUNDLED WITH\n   %s\n", bundler)
	return b.String()
}

// Build writes g as a .gem: a tar of metadata.gz (the YAML gemspec) and data.tar.gz
// (the files), the layout `gem build` writes (guides.rubygems.org/specification-reference).
func Build(g Gem) ([]byte, error) {
	var names []string
	for n := range g.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	exec := map[string]bool{}
	for _, e := range g.Executables {
		exec[g.bindir()+"/"+e] = true
	}
	var data bytes.Buffer
	gz := gzip.NewWriter(&data)
	tw := tar.NewWriter(gz)
	for _, n := range names {
		mode := int64(0o644)
		if exec[n] {
			mode = 0o755
		}
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: mode, Size: int64(len(g.Files[n])), ModTime: epoch, Typeflag: tar.TypeReg}); err != nil {
			return nil, err
		}
		if _, err := tw.Write([]byte(g.Files[n])); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	var meta bytes.Buffer
	mgz := gzip.NewWriter(&meta)
	mgz.Write([]byte(specYAML(g, names)))
	if err := mgz.Close(); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	ow := tar.NewWriter(&out)
	for _, f := range []struct {
		name string
		data []byte
	}{{"metadata.gz", meta.Bytes()}, {"data.tar.gz", data.Bytes()}} {
		if err := ow.WriteHeader(&tar.Header{Name: f.name, Mode: 0o444, Size: int64(len(f.data)), ModTime: epoch, Typeflag: tar.TypeReg}); err != nil {
			return nil, err
		}
		if _, err := ow.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := ow.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func q(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func yamlList(b *strings.Builder, key string, items []string) {
	if len(items) == 0 {
		fmt.Fprintf(b, "%s: []\n", key)
		return
	}
	fmt.Fprintf(b, "%s:\n", key)
	for _, it := range items {
		fmt.Fprintf(b, "- %s\n", q(it))
	}
}

func yamlRequirement(b *strings.Builder, indent, key, req string) {
	fmt.Fprintf(b, "%s%s: !ruby/object:Gem::Requirement\n%s  requirements:\n", indent, key, indent)
	for _, r := range splitReq(req) {
		op, v := ">=", "0"
		fields := strings.Fields(r)
		switch len(fields) {
		case 1:
			op, v = "=", fields[0]
		case 2:
			op, v = fields[0], fields[1]
		}
		fmt.Fprintf(b, "%s  - - %s\n%s    - !ruby/object:Gem::Version\n%s      version: %s\n", indent, q(op), indent, indent, q(v))
	}
}

// specYAML is the Gem::Specification RubyGems reads from metadata.gz.
func specYAML(g Gem, files []string) string {
	var b strings.Builder
	b.WriteString("--- !ruby/object:Gem::Specification\n")
	fmt.Fprintf(&b, "name: %s\nversion: !ruby/object:Gem::Version\n  version: %s\nplatform: ruby\n", q(g.Name), q(g.Version))
	b.WriteString("authors:\n- 'Slipway tests'\nautorequire:\n")
	fmt.Fprintf(&b, "bindir: %s\ncert_chain: []\ndate: 2024-01-01 00:00:00.000000000 Z\n", q(g.bindir()))
	if len(g.Deps) == 0 {
		b.WriteString("dependencies: []\n")
	} else {
		b.WriteString("dependencies:\n")
		for _, d := range g.Deps {
			fmt.Fprintf(&b, "- !ruby/object:Gem::Dependency\n  name: %s\n", q(d.Name))
			yamlRequirement(&b, "  ", "requirement", d.Req)
			b.WriteString("  type: :runtime\n  prerelease: false\n")
			yamlRequirement(&b, "  ", "version_requirements", d.Req)
		}
	}
	b.WriteString("description:\nemail:\n")
	yamlList(&b, "executables", g.Executables)
	yamlList(&b, "extensions", g.Extensions)
	b.WriteString("extra_rdoc_files: []\n")
	yamlList(&b, "files", files)
	b.WriteString("homepage:\nlicenses:\n- 'MIT'\nmetadata: {}\npost_install_message:\nrdoc_options: []\n")
	paths := g.RequirePaths
	if len(paths) == 0 {
		paths = []string{"lib"}
	}
	yamlList(&b, "require_paths", paths)
	yamlRequirement(&b, "", "required_ruby_version", ">= 0")
	yamlRequirement(&b, "", "required_rubygems_version", ">= 0")
	b.WriteString("requirements: []\nrubygems_version: '3.3.15'\nsigning_key:\nspecification_version: 4\n")
	fmt.Fprintf(&b, "summary: %s\ntest_files: []\n", q(g.Name+" for Slipway's tests"))
	return b.String()
}
