package procfile

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: a Procfile comes with the app; an accepted type must be usable as
// /cnb/process/<type>.
func FuzzParse(f *testing.F) {
	f.Add("web: node server.js\nworker: node w.js\n# comment\n")
	f.Add("..: rm -rf /\n")
	f.Add("a:b\n\n\na: c\n")
	f.Fuzz(func(t *testing.T, data string) {
		p := filepath.Join(t.TempDir(), "Procfile")
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		entries, err := Parse(p)
		if err != nil {
			return
		}
		for _, e := range entries {
			if e.Type == "." || e.Type == ".." || e.Type == "" || e.Command == "" {
				t.Errorf("accepted %+v", e)
			}
		}
	})
}
