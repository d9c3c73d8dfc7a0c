package pypiindex

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/slipway/slipway/debian"
	"github.com/slipway/slipway/internal/testimages"
)

// DebianMirror and DebianKeyring are where the Debian packages come from.
const (
	DebianMirror  = "http://deb.debian.org/debian"
	DebianSuite   = "bookworm"
	DebianKeyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
)

var debIndex struct {
	once sync.Once
	idx  *debian.Index
	err  error
}

// DebianPackages downloads the named Debian bookworm packages (verified, cached by
// SHA256 under the test cache) and returns their .deb paths by name.
func DebianPackages(t testing.TB, names ...string) map[string]string {
	t.Helper()
	if _, err := os.Stat(DebianKeyring); err != nil {
		t.Skip("Debian's archive keyring is not installed (apt-get install debian-archive-keyring)")
	}
	out, err := FetchDebian(context.Background(), filepath.Join(testimages.CacheDir(t), "debs"), names...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// FetchDebian is DebianPackages for programs (the benchmark's index): .debs are kept in
// cacheDir by SHA256.
func FetchDebian(ctx context.Context, cacheDir string, names ...string) (map[string]string, error) {
	client := &debian.Client{CacheDir: cacheDir}
	idx, err := debianIndex(ctx, client)
	if err != nil {
		return nil, err
	}
	var pkgs []*debian.Package
	for _, n := range names {
		p, ok := idx.Lookup(n)
		if !ok {
			return nil, fmt.Errorf("Debian %s has no package %s", DebianSuite, n)
		}
		pkgs = append(pkgs, p)
	}
	paths, err := client.Download(ctx, pkgs)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for i, p := range pkgs {
		out[p.Name] = paths[i]
	}
	return out, nil
}

// debianIndex reads bookworm's main index once per process.
func debianIndex(ctx context.Context, client *debian.Client) (*debian.Index, error) {
	debIndex.once.Do(func() {
		debIndex.idx, debIndex.err = client.Index(ctx, debian.Source{URL: DebianMirror, Suite: DebianSuite, Components: []string{"main"}, Architecture: "amd64", Keyring: DebianKeyring}, nil)
	})
	return debIndex.idx, debIndex.err
}

// FromDebian rebuilds the Python distribution a Debian python3-* package installed (its
// files under /usr/lib/python3/dist-packages and its .dist-info or .egg-info metadata) as
// a wheel. Debian drops the base requirements from egg-info metadata (its own Depends
// carry them); requires puts them back as Requires-Dist.
func FromDebian(t testing.TB, deb string, requires ...string) Wheel {
	t.Helper()
	w, err := WheelFromDeb(deb, t.TempDir(), requires...)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// WheelFromDeb is FromDebian for programs; tmp is scratch space.
func WheelFromDeb(deb, tmp string, requires ...string) (Wheel, error) {
	dir, err := os.MkdirTemp(tmp, "deb-")
	if err != nil {
		return Wheel{}, err
	}
	defer os.RemoveAll(dir)
	root, err := os.OpenRoot(dir)
	if err != nil {
		return Wheel{}, err
	}
	f, err := os.Open(deb)
	if err != nil {
		root.Close()
		return Wheel{}, err
	}
	_, err = debian.Extract(context.Background(), bufio.NewReader(f), root, deb, debian.ExtractOptions{})
	f.Close()
	root.Close()
	if err != nil {
		return Wheel{}, err
	}
	// A *-whl package ships a ready wheel: serve it as it is.
	if m, _ := filepath.Glob(filepath.Join(dir, "usr/share/python-wheels/*.whl")); len(m) == 1 {
		data, err := os.ReadFile(m[0])
		if err != nil {
			return Wheel{}, err
		}
		parts := strings.SplitN(filepath.Base(m[0]), "-", 3)
		return Wheel{Name: parts[0], Version: parts[1], File: filepath.Base(m[0]), Data: data}, nil
	}
	w, err := wheelFromSitePackages(filepath.Join(dir, "usr/lib/python3/dist-packages"), requires)
	if err != nil {
		return Wheel{}, fmt.Errorf("%s: %w", filepath.Base(deb), err)
	}
	return w, nil
}

// ErrNotADistribution is a Debian package that installs no Python distribution: a part of
// the standard library Debian splits out (python3-distutils, python3-lib2to3) or files
// without metadata (python3-pkg-resources).
var ErrNotADistribution = errors.New("not a Python distribution")

func wheelFromSitePackages(site string, requires []string) (Wheel, error) {
	ents, err := os.ReadDir(site)
	if os.IsNotExist(err) {
		return Wheel{}, fmt.Errorf("%w: nothing in %s", ErrNotADistribution, site)
	}
	if err != nil {
		return Wheel{}, err
	}
	var info string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".dist-info") || strings.HasSuffix(e.Name(), ".egg-info") {
			info = e.Name()
		}
	}
	if info == "" {
		return Wheel{}, fmt.Errorf("%w: no .dist-info or .egg-info in %s", ErrNotADistribution, site)
	}
	infoPath := filepath.Join(site, info)
	read := func(name string) string {
		b, _ := os.ReadFile(filepath.Join(infoPath, name))
		return string(b)
	}
	var meta string
	if strings.HasSuffix(info, ".dist-info") {
		meta = read("METADATA")
	} else {
		if fi, err := os.Stat(infoPath); err == nil && !fi.IsDir() {
			b, _ := os.ReadFile(infoPath) // a single-file .egg-info is the PKG-INFO
			meta = string(b)
		} else {
			meta = read("PKG-INFO")
			meta = withRequires(meta, read("requires.txt"))
		}
	}
	if len(requires) > 0 {
		head, body, _ := strings.Cut(meta, "\n\n")
		for _, r := range requires {
			head += "\nRequires-Dist: " + r
		}
		meta = head + "\n\n" + body
	}
	name, version := field(meta, "Name"), field(meta, "Version")
	if name == "" || version == "" {
		return Wheel{}, fmt.Errorf("%s: metadata lacks Name or Version", info)
	}
	files := map[string]string{}
	err = filepath.WalkDir(site, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(site, p)
		if d.IsDir() && (d.Name() == "__pycache__" || rel == info) {
			return filepath.SkipDir
		}
		if rel == info || d.IsDir() || d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		return Wheel{}, err
	}
	return Make(Spec{Name: name, Version: version, Files: files, Metadata: meta, EntryPoints: read("entry_points.txt")})
}

func field(meta, name string) string {
	for _, line := range strings.Split(meta, "\n") {
		if line == "" {
			break // the body (description) follows the headers
		}
		if k, v, ok := strings.Cut(line, ":"); ok && k == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// withRequires adds the Requires-Dist headers an egg-info keeps in requires.txt
// ("[extra]" and "[:marker]" sections become markers).
func withRequires(meta, requires string) string {
	var reqs []string
	section := ""
	for _, line := range strings.Split(requires, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "":
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		default:
			extra, marker, _ := strings.Cut(section, ":")
			var conds []string
			if marker != "" {
				conds = append(conds, "("+marker+")")
			}
			if extra != "" {
				conds = append(conds, fmt.Sprintf("extra == %q", extra))
			}
			if len(conds) > 0 {
				line += "; " + strings.Join(conds, " and ")
			}
			reqs = append(reqs, "Requires-Dist: "+line)
		}
	}
	sort.Strings(reqs)
	head, body, _ := strings.Cut(meta, "\n\n")
	var kept []string
	for _, l := range strings.Split(head, "\n") {
		if !strings.HasPrefix(l, "Requires-Dist:") {
			kept = append(kept, l)
		}
	}
	return strings.Join(append(kept, reqs...), "\n") + "\n\n" + body
}
