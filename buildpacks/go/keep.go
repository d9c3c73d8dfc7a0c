package golang

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// alwaysKept are app files later buildpacks of the group read at build time.
var alwaysKept = []string{"Procfile", "project.toml"}

// removeSource deletes everything in appDir except paths matching keep (globs relative to
// the app; a matching directory is kept whole, "dir/**" keeps dir) and the files in
// alwaysKept, returning how many files it removed.
func removeSource(appDir string, keep []string) (int, error) {
	pats := append(append([]string(nil), keep...), alwaysKept...)
	for _, p := range pats {
		if _, err := path.Match(strings.TrimSuffix(p, "/**"), ""); err != nil {
			return 0, fmt.Errorf("BP_KEEP_FILES: bad pattern %q: %w", p, err)
		}
	}
	kept := func(rel string) bool {
		for _, p := range pats {
			p = strings.TrimPrefix(strings.TrimSuffix(p, "/**"), "./")
			if ok, _ := path.Match(p, rel); ok {
				return true
			}
		}
		return false
	}
	// walk removes what is not kept under rel and reports whether it kept anything, so a
	// directory holding kept files stays.
	removed := 0
	var walk func(rel string) (bool, error)
	walk = func(rel string) (bool, error) {
		dir := filepath.Join(appDir, filepath.FromSlash(rel))
		ents, err := os.ReadDir(dir)
		if err != nil {
			return false, fmt.Errorf("remove source: %w", err)
		}
		keptAny := false
		for _, e := range ents {
			r := path.Join(rel, e.Name())
			if rel == "" {
				r = e.Name()
			}
			if kept(r) {
				keptAny = true
				continue
			}
			p := filepath.Join(dir, e.Name())
			if e.IsDir() {
				k, err := walk(r)
				if err != nil {
					return false, err
				}
				if k {
					keptAny = true
					continue
				}
			} else {
				removed++
			}
			if err := os.RemoveAll(p); err != nil {
				return false, fmt.Errorf("remove source %s: %w", r, err)
			}
		}
		return keptAny, nil
	}
	_, err := walk("")
	return removed, err
}
