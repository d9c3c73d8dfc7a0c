package pypiindex

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/slipway/slipway/debian"
	"github.com/slipway/slipway/internal/testimages"
)

// DebianTree rebuilds the named python3-* packages and every python3-* package they
// depend on (Debian's Depends, transitively) as wheels whose Requires-Dist is that
// dependency graph, unversioned, instead of the upstream metadata: Debian ships its own
// versions and patches code to them (its cleo uses pylev, not rapidfuzz; its poetry runs
// with a newer dulwich than upstream pins), so upstream's requirements would not resolve
// against the packages Debian has. Packages that hold no distribution (ErrNotADistribution)
// are left out. Packages named in skip are left out and dropped from
// the requirements, as are the *-whl packages (ready wheels of pip, setuptools, wheel
// that virtualenv seeds from). It returns the wheels by Debian package name.
func DebianTree(t testing.TB, roots []string, skip ...string) map[string]Wheel {
	t.Helper()
	ws, err := debianTree(context.Background(), filepath.Join(testimages.CacheDir(t), "debs"), t.TempDir(), roots, skip)
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

func debianTree(ctx context.Context, cacheDir, tmp string, roots, skip []string) (map[string]Wheel, error) {
	client := &debian.Client{CacheDir: cacheDir}
	idx, err := debianIndex(ctx, client)
	if err != nil {
		return nil, err
	}
	skipped := map[string]bool{}
	for _, s := range skip {
		skipped[s] = true
	}
	deps := map[string][]string{} // package → the python3-* packages it depends on
	var order []string
	queue := append([]string(nil), roots...)
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if _, seen := deps[name]; seen {
			continue
		}
		p, ok := idx.Lookup(name)
		if !ok {
			return nil, fmt.Errorf("Debian %s has no package %s", DebianSuite, name)
		}
		deps[name] = []string{}
		order = append(order, name)
		for _, alts := range append(append([]debian.Alternatives(nil), p.PreDepends...), p.Depends...) {
			if dep := pythonDependency(idx, alts, skipped); dep != "" {
				deps[name] = append(deps[name], dep)
				queue = append(queue, dep)
			}
		}
	}
	var pkgs []*debian.Package
	for _, n := range order {
		p, _ := idx.Lookup(n)
		pkgs = append(pkgs, p)
	}
	paths, err := client.Download(ctx, pkgs)
	if err != nil {
		return nil, err
	}
	built := map[string]Wheel{}
	for i, n := range order {
		w, err := WheelFromDeb(paths[i], tmp)
		if errors.Is(err, ErrNotADistribution) {
			continue // the interpreter has it (upstream's standard library), or nothing imports it by name
		}
		if err != nil {
			return nil, fmt.Errorf("rebuild %s: %w", n, err)
		}
		built[n] = w
	}
	out := map[string]Wheel{}
	for _, n := range order {
		if _, ok := built[n]; !ok {
			continue
		}
		var reqs []string
		for _, d := range deps[n] {
			if w, ok := built[d]; ok {
				reqs = append(reqs, w.Name)
			}
		}
		sort.Strings(reqs)
		w, err := built[n].WithRequires(reqs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		out[n] = w
	}
	return out, nil
}

// pythonDependency is the python3-* package that satisfies one Depends entry, or "" when
// the entry is about something else: the interpreter itself ("python3 (>> 3.10)" as an
// alternative means the standard library has it), a C library, a skipped package.
func pythonDependency(idx *debian.Index, alts debian.Alternatives, skip map[string]bool) string {
	for _, r := range alts {
		if r.Name == "python3" || strings.HasPrefix(r.Name, "python3.") {
			return ""
		}
	}
	for _, r := range alts {
		if !strings.HasPrefix(r.Name, "python3-") || strings.HasSuffix(r.Name, "-whl") || skip[r.Name] {
			continue
		}
		if _, ok := idx.Lookup(r.Name); ok {
			return r.Name
		}
	}
	return ""
}

// WithRequires is the wheel with its Requires-Dist replaced by reqs.
func (w Wheel) WithRequires(reqs []string) (Wheel, error) {
	s, err := w.spec()
	if err != nil {
		return Wheel{}, err
	}
	head, body, _ := strings.Cut(s.Metadata, "\n\n")
	var kept []string
	for _, l := range strings.Split(head, "\n") {
		if !strings.HasPrefix(l, "Requires-Dist:") {
			kept = append(kept, l)
		}
	}
	for _, r := range reqs {
		kept = append(kept, "Requires-Dist: "+r)
	}
	s.Metadata = strings.Join(kept, "\n") + "\n\n" + body
	return w.remake(s)
}

// Patched is the wheel with old replaced by new in the file at path: a test's fix for a
// Debian patch that points a module at system paths the build image does not have.
func (w Wheel) Patched(path, old, new string) (Wheel, error) {
	s, err := w.spec()
	if err != nil {
		return Wheel{}, err
	}
	if !strings.Contains(s.Files[path], old) {
		return Wheel{}, fmt.Errorf("%s: %s does not contain %q", w.File, path, old)
	}
	s.Files[path] = strings.Replace(s.Files[path], old, new, 1)
	return w.remake(s)
}

func (w Wheel) remake(s Spec) (Wheel, error) {
	out, err := Make(s)
	if err != nil {
		return Wheel{}, err
	}
	out.File = w.File // keep the name (and its tags) the wheel was published under
	return out, nil
}

// spec reads a wheel back into the Spec that makes it: its files, METADATA and entry
// points (WHEEL and RECORD are written anew by Make; other .dist-info files, licences,
// are dropped).
func (w Wheel) spec() (Spec, error) {
	zr, err := zip.NewReader(bytes.NewReader(w.Data), int64(len(w.Data)))
	if err != nil {
		return Spec{}, fmt.Errorf("read %s: %w", w.File, err)
	}
	s := Spec{Name: w.Name, Version: w.Version, Files: map[string]string{}}
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return Spec{}, err
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return Spec{}, err
		}
		dir, base := pathSplit(f.Name)
		if strings.HasSuffix(dir, ".dist-info") && !strings.Contains(dir, "/") {
			switch base {
			case "METADATA":
				s.Metadata = string(b)
			case "entry_points.txt":
				s.EntryPoints = string(b)
			}
			continue
		}
		s.Files[f.Name] = string(b)
	}
	if s.Metadata == "" {
		return Spec{}, fmt.Errorf("%s has no METADATA", w.File)
	}
	return s, nil
}

func pathSplit(p string) (string, string) {
	i := strings.LastIndex(p, "/")
	if i < 0 {
		return "", p
	}
	return p[:i], p[i+1:]
}
