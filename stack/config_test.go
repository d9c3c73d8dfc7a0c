package stack_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway/slipway/stack"
)

const validStack = `
id = "io.example.stack"
[[sources]]
url = "http://127.0.0.1/debian"
suite = "stable"
components = ["main"]
keyring = "keys/archive.gpg"
[user]
build-uid = 1000
build-gid = 1000
run-uid = 1001
run-gid = 1000
[build]
image = "example/build"
packages = ["bash"]
[run]
image = "example/run"
packages = ["libc6"]
`

func TestReadDefinition(t *testing.T) {
	tests := []struct {
		name    string
		content string
		wantErr []string
	}{
		{"valid", validStack, nil},
		{"syntax error has file, line and column", "id = \"x\"\nmaintainer = = 1\n", []string{"stack.toml", "line 2, column"}},
		{"wrong type has the position", "id = 3\n", []string{"stack.toml", "line 1"}},
		{"unknown key", validStack + "\n[extra]\nfoo = 1\n", []string{"stack.toml", "unknown key extra"}},
		{"no sources", "[build]\nimage = \"x\"\n", []string{"stack.toml", "no [[sources]]"}},
		{"missing keyring", strings.Replace(validStack, `keyring = "keys/archive.gpg"`, "", 1), []string{"stack.toml", "[[sources]] #1", "keyring is required"}},
		{"root user", strings.Replace(validStack, "run-uid = 1001", "run-uid = 0", 1), []string{"stack.toml", "not 0"}},
		{"no run packages", strings.Replace(validStack, `packages = ["libc6"]`, "", 1), []string{"[run] packages is empty"}},
		{"bad architecture", "architecture = \"vax\"\n" + validStack, []string{"architecture \"vax\""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "stack.toml")
			if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			d, err := stack.ReadDefinition(path)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if got := d.KeyringPath(d.Sources[0]); got != filepath.Join(filepath.Dir(path), "keys/archive.gpg") {
					t.Errorf("relative keyring resolved to %s", got)
				}
				if d.User.Name != "cnb" || d.Architecture == "" {
					t.Errorf("defaults not applied: %+v", d)
				}
				return
			}
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

// The built-in stack parses, and its run image differs in UID (platform.md, Build Image).
func TestDefaultStack(t *testing.T) {
	d, err := stack.Default()
	if err != nil {
		t.Fatal(err)
	}
	if d.User.BuildUID == d.User.RunUID {
		t.Error("build and run image share a UID")
	}
	if d.Sources[0].URL != "http://deb.debian.org/debian" || d.Sources[0].Suite != "bookworm" {
		t.Errorf("sources = %+v", d.Sources)
	}
}
