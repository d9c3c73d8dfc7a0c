package gemsource

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway/slipway/debian"
)

// FromDebian rebuilds the gem a Debian ruby-* package installed as a .gem: its files
// under /usr/share/rubygems-integration/all/gems/NAME-VERSION/ (lib/, and bin/ or exe/
// with the executables), or, for the
// older layout, /usr/lib/ruby/vendor_ruby as lib/. Debian's gemspecs are Ruby code, so
// the dependencies are given, as Bundler would lock them.
func FromDebian(t testing.TB, deb, name, version string, deps ...Dep) Gem {
	t.Helper()
	g, err := GemFromDeb(deb, t.TempDir(), name, version, deps...)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// GemFromDeb is FromDebian for programs; tmp is scratch space.
func GemFromDeb(deb, tmp, name, version string, deps ...Dep) (Gem, error) {
	dir, err := os.MkdirTemp(tmp, "deb-")
	if err != nil {
		return Gem{}, err
	}
	defer os.RemoveAll(dir)
	root, err := os.OpenRoot(dir)
	if err != nil {
		return Gem{}, err
	}
	f, err := os.Open(deb)
	if err != nil {
		root.Close()
		return Gem{}, err
	}
	_, err = debian.Extract(context.Background(), bufio.NewReader(f), root, deb, debian.ExtractOptions{})
	f.Close()
	root.Close()
	if err != nil {
		return Gem{}, err
	}
	g := Gem{Name: name, Version: version, Deps: deps, Files: map[string]string{}}
	add := func(base, prefix string, only func(rel string) bool) error {
		return filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if os.IsNotExist(err) {
					return nil
				}
				return err
			}
			if d.IsDir() || d.Type()&fs.ModeSymlink != 0 {
				return nil
			}
			rel, _ := filepath.Rel(base, p)
			rel = filepath.ToSlash(rel)
			if only != nil && !only(rel) {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			g.Files[prefix+rel] = string(b)
			if prefix == g.bindir()+"/" && !strings.Contains(rel, "/") {
				g.Executables = append(g.Executables, rel)
			}
			return nil
		})
	}
	gemDir := filepath.Join(dir, "usr/share/rubygems-integration/all/gems", name+"-"+version)
	if m, _ := filepath.Glob(filepath.Join(dir, "usr/lib/*/rubygems-integration/*/gems", name+"-"+version)); len(m) == 1 {
		// A package with a compiled extension (ruby-nokogiri): its Ruby files here, the
		// extension RubyGems built under extensions/, which goes into lib/ beside them,
		// where the gem's require of it finds it on the load path, as in the
		// precompiled native gems some projects publish.
		gemDir = m[0]
		exts, _ := filepath.Glob(filepath.Join(dir, "usr/lib/*/rubygems-integration/*/extensions/*/*", name+"-"+version))
		for _, e := range exts {
			if err := add(e, "lib/", func(rel string) bool { return strings.HasSuffix(rel, ".so") }); err != nil {
				return Gem{}, err
			}
		}
	}
	if _, err := os.Stat(gemDir); err == nil {
		if err := add(filepath.Join(gemDir, "lib"), "lib/", nil); err != nil {
			return Gem{}, err
		}
		if _, err := os.Stat(filepath.Join(gemDir, "exe")); err == nil {
			g.BinDir = "exe" // Bundler's layout
		}
		if err := add(filepath.Join(gemDir, g.bindir()), g.bindir()+"/", nil); err != nil {
			return Gem{}, err
		}
	} else {
		if err := add(filepath.Join(dir, "usr/lib/ruby/vendor_ruby"), "lib/", nil); err != nil {
			return Gem{}, err
		}
	}
	if len(g.Files) == 0 {
		return Gem{}, fmt.Errorf("%s: no files of gem %s %s", filepath.Base(deb), name, version)
	}
	// Debian's gemspec starts with RubyGems' stub line, "# stub: NAME VERSION PLATFORM
	// PATHS", PATHS the require paths joined by NUL.
	specs, _ := filepath.Glob(filepath.Join(dir, "usr/*/*rubygems-integration/*/specifications", name+"-"+version+".gemspec"))
	more, _ := filepath.Glob(filepath.Join(dir, "usr/lib/*/rubygems-integration/*/specifications", name+"-"+version+".gemspec"))
	for _, s := range append(specs, more...) {
		b, err := os.ReadFile(s)
		if err != nil {
			return Gem{}, err
		}
		for _, line := range strings.SplitN(string(b), "\n", 4) {
			if f := strings.Fields(strings.TrimPrefix(line, "# stub: ")); strings.HasPrefix(line, "# stub: ") && len(f) == 4 {
				if paths := strings.Split(f[3], "\x00"); !(len(paths) == 1 && paths[0] == "lib") {
					g.RequirePaths = paths
				}
			}
		}
	}
	return g, nil
}
