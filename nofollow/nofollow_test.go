package nofollow

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestOpenRefusesLinksAndSpecialFiles(t *testing.T) {
	host := t.TempDir()
	secret := filepath.Join(host, "secret.toml")
	must(t, os.WriteFile(secret, []byte("[metadata]\nkey = \"host\"\n"), 0o600))
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "bp", "real"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "bp", "ok.toml"), []byte("ok"), 0o644))
	must(t, os.Symlink(secret, filepath.Join(dir, "bp", "store.toml")))
	must(t, os.Symlink("ok.toml", filepath.Join(dir, "bp", "inside.toml")))
	must(t, os.Symlink(host, filepath.Join(dir, "linkdir")))
	must(t, syscall.Mkfifo(filepath.Join(dir, "bp", "fifo.toml"), 0o644))

	b, err := ReadFile(dir, "bp/ok.toml")
	if err != nil || string(b) != "ok" {
		t.Fatalf("ReadFile(ok) = %q, %v", b, err)
	}
	for rel, want := range map[string]string{
		"bp/store.toml":       "a symbolic link",
		"bp/inside.toml":      "a symbolic link",
		"linkdir/secret.toml": "symbolic link",
		"bp/fifo.toml":        "not a regular file",
		"bp/real":             "not a regular file",
		"bp/../bp/ok.toml":    "'..'",
		"/etc/passwd":         "relative",
		"bp/missing.toml":     "no such file",
	} {
		_, err := ReadFile(dir, rel)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ReadFile(%s) = %v, want an error containing %q", rel, err, want)
		}
	}
	if _, err := ReadFile(dir, "bp/missing.toml"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file: %v, want fs.ErrNotExist", err)
	}
	if _, err := ReadDir(dir, "linkdir"); err == nil {
		t.Error("ReadDir followed a symlinked directory")
	}
	ents, err := ReadDir(dir, "bp")
	if err != nil || len(ents) != 5 {
		t.Errorf("ReadDir(bp) = %d entries, %v", len(ents), err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
