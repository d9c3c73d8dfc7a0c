package buildpack

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway/slipway/api"
)

// writeLookupFixture writes <root>/<escaped-id>/<version>/buildpack.toml with body.
func writeLookupFixture(t *testing.T, root, id, version, body string) string {
	t.Helper()
	dir := filepath.Join(root, EscapedID(id), version)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "buildpack.toml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func lookupDescriptorTOML(apiVersion, id, version string) string {
	return "api = \"" + apiVersion + "\"\n[buildpack]\nid = \"" + id + "\"\nversion = \"" + version + "\"\n"
}

// platform.md, Usage (default locations): <buildpacks>/<escaped-id>/<version>/buildpack.toml.
func TestLookupFind(t *testing.T) {
	root := t.TempDir()
	writeLookupFixture(t, root, "acme/one", "1.0.0", lookupDescriptorTOML("0.12", "acme/one", "1.0.0"))
	writeLookupFixture(t, root, "acme/two", "1.0.0", lookupDescriptorTOML("0.12", "acme/two", "1.0.0"))
	writeLookupFixture(t, root, "acme/two", "2.0.0", lookupDescriptorTOML("0.12", "acme/two", "2.0.0"))
	writeLookupFixture(t, root, "acme/liar", "1.0.0", lookupDescriptorTOML("0.12", "acme/other", "1.0.0"))
	writeLookupFixture(t, root, "acme/broken", "1.0.0", "api = \"0.12\"\n[buildpack]\nid = \"acme/broken\"\nversion = 1.0.0\n")
	writeLookupFixture(t, root, "acme/old", "1.0.0", lookupDescriptorTOML("0.2", "acme/old", "1.0.0"))

	tests := []struct {
		name, id, version string
		wantRef           string
		wantErr           []string
	}{
		{name: "exact version", id: "acme/two", version: "2.0.0", wantRef: "acme/two@2.0.0"},
		{name: "only version when none given", id: "acme/one", wantRef: "acme/one@1.0.0"},
		{name: "several versions need one named", id: "acme/two", wantErr: []string{"1.0.0, 2.0.0", "acme/two@<version>"}},
		{name: "missing buildpack", id: "acme/none", version: "1.0.0", wantErr: []string{"acme_none", "does not exist"}},
		{name: "missing version", id: "acme/one", version: "9.9.9", wantErr: []string{"9.9.9", "does not exist"}},
		{name: "descriptor disagrees with path", id: "acme/liar", version: "1.0.0", wantErr: []string{"declares acme/other@1.0.0"}},
		{name: "malformed toml names file and line", id: "acme/broken", version: "1.0.0",
			wantErr: []string{filepath.Join("acme_broken", "1.0.0", "buildpack.toml"), "line 4"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := NewLookup(root).Find(tc.id, tc.version)
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("Find(%s, %s) = %s, want error", tc.id, tc.version, d.Ref())
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Ref() != tc.wantRef {
				t.Errorf("got %s, want %s", d.Ref(), tc.wantRef)
			}
		})
	}

	t.Run("unsupported API is typed", func(t *testing.T) {
		_, err := FindDescriptor(root, "acme/old", "1.0.0")
		var ue *api.UnsupportedError
		if !errors.As(err, &ue) {
			t.Fatalf("got %v, want *api.UnsupportedError", err)
		}
	})
}

func TestLookupReadsEachDescriptorOnce(t *testing.T) {
	root := t.TempDir()
	dir := writeLookupFixture(t, root, "acme/one", "1.0.0", lookupDescriptorTOML("0.12", "acme/one", "1.0.0"))
	l := NewLookup(root)
	first, err := l.Find("acme/one", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	// Break the file: a cached lookup must not read it again.
	if err := os.WriteFile(filepath.Join(dir, "buildpack.toml"), []byte("not toml ["), 0o644); err != nil {
		t.Fatal(err)
	}
	second, err := l.Find("acme/one", "")
	if err != nil {
		t.Fatalf("second Find read the file again: %v", err)
	}
	if first != second {
		t.Error("second Find returned a different descriptor; want the cached one")
	}
}
