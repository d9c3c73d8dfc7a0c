package apt

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseAptfile(t *testing.T) {
	cases := []struct {
		name, content string
		want          []string
		repos         int
		wantErr       string
	}{
		{"packages and comments", "# tools\njq\n\n  tree  # inline\njq\n", []string{"jq", "tree"}, 0, ""},
		{"repo line", ":repo:deb [signed-by=keys/x.gpg] http://example.invalid/debian bookworm main\njq\n", []string{"jq"}, 1, ""},
		{"repo without keyring", ":repo:deb http://example.invalid/debian bookworm main\n", nil, 0, "Aptfile:1: "},
		{"deb by URL", "jq\nhttps://example.invalid/x.deb\n", nil, 0, "Aptfile:2: "},
		{"two names on a line", "jq tree\n", nil, 0, "one package name per line"},
		{"bad name", "JQ\n", nil, 0, "not a Debian package name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "Aptfile")
			os.WriteFile(p, []byte(tc.content), 0o644)
			af, err := ParseAptfile(p, dir)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(af.Packages, tc.want) || len(af.Repos) != tc.repos {
				t.Errorf("packages %v repos %v", af.Packages, af.Repos)
			}
			if tc.repos > 0 && af.Repos[0].Keyring != filepath.Join(dir, "keys/x.gpg") {
				t.Errorf("keyring %q not relative to the app", af.Repos[0].Keyring)
			}
		})
	}
}
