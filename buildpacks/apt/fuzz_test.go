package apt

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseAptfile: an Aptfile comes with the app; whatever is accepted is a list of
// Debian package names, never a URL, a path or an option.
func FuzzParseAptfile(f *testing.F) {
	f.Add("jq\ntree # comment\n\n")
	f.Add(":repo:deb [signed-by=keys/x.gpg] http://127.0.0.1/debian bookworm main\nfoo\n")
	f.Add("http://evil/x.deb\n-oDebug=1\n../../etc/passwd\n")
	f.Fuzz(func(t *testing.T, data string) {
		app := t.TempDir()
		p := filepath.Join(app, "Aptfile")
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		af, err := ParseAptfile(p, app)
		if err != nil {
			return
		}
		for _, name := range af.Packages {
			if !validName(name) || name[0] == '-' || name[0] == '.' {
				t.Errorf("accepted package %q", name)
			}
		}
	})
}
