package launch

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzAddEnvDir: env files (<layer>/env*, <platform>/env) are written by buildpacks and
// users; any name and content must be applied or skipped, never panic.
func FuzzAddEnvDir(f *testing.F) {
	f.Add("PATH.prepend", "/x/bin", ":")
	f.Add("A.override", "", "")
	f.Add("B", "v\n", "\x00")
	f.Add("C.append", "tail", "")
	f.Fuzz(func(t *testing.T, name, value, delim string) {
		if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") || len(name) > 200 {
			return
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(value), 0o644); err != nil {
			t.Skip(err)
		}
		base, _, _ := strings.Cut(name, ".")
		_ = os.WriteFile(filepath.Join(dir, base+".delim"), []byte(delim), 0o644)
		e := NewEnv([]string{"PATH=/usr/bin", "A=a"}, nil, nil)
		if err := e.AddEnvDir(dir, Override); err != nil {
			t.Fatal(err)
		}
	})
}
