package golang

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Target is one main package to build.
type Target struct {
	Pattern    string // as configured ("./cmd/api")
	ImportPath string
	Binary     string // the executable's name, as go build names it
}

// findTargets resolves BP_GO_TARGETS, or by default the app root when it is package main,
// else every ./cmd/<name> that is, to main packages. module is the main module's path.
func findTargets(ctx context.Context, appDir string, configured []string, module string, g goCmd) ([]Target, error) {
	from := "BP_GO_TARGETS"
	patterns := configured
	if len(patterns) == 0 {
		from = "default target"
		switch {
		case rootPackages(appDir)["main"]:
			patterns = []string{"."}
		default:
			ents, _ := os.ReadDir(filepath.Join(appDir, "cmd"))
			for _, e := range ents {
				if e.IsDir() && rootPackages(filepath.Join(appDir, "cmd", e.Name()))["main"] {
					patterns = append(patterns, "./cmd/"+e.Name())
				}
			}
			if len(patterns) == 0 {
				return nil, fmt.Errorf("no main package at the app root or in ./cmd/*; set BP_GO_TARGETS to the main packages to build (e.g. ./cmd/server, ':'-separated for several)")
			}
		}
		if ts, ok := directTargets(appDir, module, patterns); ok {
			return ts, nil
		}
	}
	var out []Target
	seen := map[string]string{}
	for _, p := range patterns {
		p = relPattern(p)
		b, err := g.output(ctx, "list", "list", "-f", "{{.Name}}\t{{.ImportPath}}", p)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", from, p, err)
		}
		var mains []Target
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			name, imp, ok := strings.Cut(l, "\t")
			if !ok {
				continue
			}
			if name != "main" {
				if !strings.Contains(p, "...") {
					return nil, fmt.Errorf("%s: %s is package %s (%s), not a main package; only main packages build into executables", from, p, name, imp)
				}
				continue
			}
			mains = append(mains, Target{Pattern: p, ImportPath: imp, Binary: binaryName(imp)})
		}
		if len(mains) == 0 {
			return nil, fmt.Errorf("%s: %s matches no main package", from, p)
		}
		for _, t := range mains {
			if prev, dup := seen[t.Binary]; dup {
				return nil, fmt.Errorf("%s: %s and %s both build an executable named %s; rename one directory", from, prev, t.ImportPath, t.Binary)
			}
			seen[t.Binary] = t.ImportPath
			out = append(out, t)
		}
	}
	return out, nil
}

// directTargets names the default targets without asking the go command (go list costs a
// toolchain start and a package load on every rebuild): each directory's non-test files
// all declare package main, so its import path is the module path plus the directory. Not
// used for a go.work workspace, where the directory may belong to another module.
func directTargets(appDir, module string, patterns []string) ([]Target, bool) {
	if module == "" || exists(filepath.Join(appDir, "go.work")) {
		return nil, false
	}
	var out []Target
	for _, p := range patterns {
		rel := strings.TrimPrefix(strings.TrimPrefix(p, "."), "/")
		if pk := rootPackages(filepath.Join(appDir, filepath.FromSlash(rel))); len(pk) != 1 || !pk["main"] {
			return nil, false
		}
		imp := module
		if rel != "" {
			imp = module + "/" + rel
		}
		out = append(out, Target{Pattern: p, ImportPath: imp, Binary: binaryName(imp)})
	}
	return out, true
}

// relPattern makes a directory given without "./" relative to the app ("cmd/api" is not the
// standard library's cmd/api), and leaves module paths ("example.com/x/cmd/y") alone.
func relPattern(p string) string {
	if strings.HasPrefix(p, ".") || strings.HasPrefix(p, "/") {
		return p
	}
	first, _, _ := strings.Cut(p, "/")
	if strings.Contains(first, ".") {
		return p
	}
	return "./" + p
}

var majorSuffix = regexp.MustCompile(`^v[0-9]+$`)

// binaryName is the name go build gives the executable of a main package: the last element
// of its import path, or the one before a major-version suffix (example.com/tool/v2 → tool).
func binaryName(importPath string) string {
	base := path.Base(importPath)
	if majorSuffix.MatchString(base) && strings.Contains(importPath, "/") {
		return path.Base(path.Dir(importPath))
	}
	return base
}

func describeTargets(ts []Target) string {
	var s []string
	for _, t := range ts {
		s = append(s, t.ImportPath+" → "+t.Binary)
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}
