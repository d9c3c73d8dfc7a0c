package tomlfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRoundTripAndErrors(t *testing.T) {
	p := filepath.Join(t.TempDir(), "group.toml")
	type entry struct {
		ID string `toml:"id"`
	}
	type file struct {
		Group []entry `toml:"group"`
	}
	if err := Write(p, file{Group: []entry{{ID: "a"}, {ID: "b"}}}); err != nil {
		t.Fatal(err)
	}
	var got file
	if err := Read(p, &got); err != nil || len(got.Group) != 2 || got.Group[1].ID != "b" {
		t.Fatalf("read back %+v, %v", got, err)
	}
	if err := os.WriteFile(p, []byte("[[group]]\nid = \n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := Read(p, &got)
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("error %v, want the file and line 2", err)
	}
}
