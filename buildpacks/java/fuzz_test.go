package java

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The manifest and layers.idx come from the app: any bytes must give a value or an
// error, never a panic.
func FuzzParseManifest(f *testing.F) {
	f.Add("Manifest-Version: 1.0\nMain-Class: a.B\nClass-Path: x.jar\n y.jar\n\n")
	f.Add(" leading continuation\n")
	f.Add("no colon\n")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseManifest(strings.NewReader(s))
		if err == nil && m == nil {
			t.Fatal("nil manifest without an error")
		}
	})
}

func FuzzReadLayersIndex(f *testing.F) {
	f.Add("- \"dependencies\":\n  - \"BOOT-INF/lib/\"\n- \"application\":\n  - \"BOOT-INF/classes/\"\n")
	f.Add("  - \"orphan\"\n")
	f.Fuzz(func(t *testing.T, s string) {
		p := filepath.Join(t.TempDir(), "layers.idx")
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		ls, err := readLayersIndex(p)
		if err != nil {
			return
		}
		for _, l := range ls {
			if len(l.Paths) == 0 {
				t.Fatalf("empty layer %q returned", l.Name)
			}
		}
	})
}
