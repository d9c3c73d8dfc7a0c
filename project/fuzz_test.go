package project

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzRead: project.toml comes with the app, from anyone; parsing must not panic.
func FuzzRead(f *testing.F) {
	f.Add("[_]\nschema-version = \"0.2\"\nid = \"x\"\n[io.buildpacks]\nbuilder = \"b\"\ninclude = [\"a\"]\n[[io.buildpacks.build.env]]\nname = \"A\"\nvalue = \"b\"\n")
	f.Add("[project]\nid = \"x\"\n[build]\nexclude = [\"*.log\"]\n[[build.buildpacks]]\nuri = \"../bp\"\n")
	f.Add("[_]\nschema-version = \"0.2\"\n[[io.buildpacks.group]]\nid = \"x\"\n[io.buildpacks.group.script]\napi = \"0.10\"\ninline = \"echo\"\n")
	f.Fuzz(func(t *testing.T, data string) {
		p := filepath.Join(t.TempDir(), "project.toml")
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		_, _ = Read(p)
	})
}
