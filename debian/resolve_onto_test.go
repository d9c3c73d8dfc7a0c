package debian_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/slipway/slipway/debian"
)

func TestResolveOntoSkipsInstalled(t *testing.T) {
	idx := debian.NewIndex()
	for _, p := range []*debian.Package{
		{Name: "libc6", Version: "2.36", SHA256: "a"},
		{Name: "libonig5", Version: "6.9", SHA256: "b"},
		{Name: "libjq1", Version: "1.6", Depends: rel(t, "libonig5, libc6 (>= 2.36)"), SHA256: "c"},
		{Name: "jq", Version: "1.6", Depends: rel(t, "libjq1 (= 1.6), libc6 (>= 2.34)"), SHA256: "d"},
		{Name: "mawk", Version: "1.3", Provides: []debian.Relation{{Name: "awk"}}, SHA256: "e"},
		{Name: "tool", Version: "1", Depends: rel(t, "awk"), SHA256: "f"},
	} {
		idx.Add(p)
	}
	status := "Package: libc6\nStatus: install ok installed\nVersion: 2.36\n\n" +
		"Package: gawk\nStatus: install ok installed\nVersion: 5\nProvides: awk\n\n" +
		"Package: removed\nStatus: deinstall ok config-files\nVersion: 1\n"
	installed, err := debian.ReadStatus(strings.NewReader(status), "status")
	if err != nil {
		t.Fatal(err)
	}
	if len(installed) != 2 {
		t.Fatalf("installed %v", installed)
	}
	cases := []struct {
		name      string
		req       []string
		installed []*debian.Package
		want      []string
	}{
		{"nothing installed", []string{"jq"}, nil, []string{"libonig5", "libc6", "libjq1", "jq"}},
		{"libc6 installed", []string{"jq"}, installed, []string{"libonig5", "libjq1", "jq"}},
		{"requested and installed", []string{"libc6"}, installed, nil},
		{"virtual provided by an installed package", []string{"tool"}, installed, []string{"tool"}},
		{"installed too old: index version selected", []string{"jq"}, []*debian.Package{{Name: "libc6", Version: "2.31"}}, []string{"libonig5", "libc6", "libjq1", "jq"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := idx.ResolveOnto(tc.req, tc.installed)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, p := range got {
				names = append(names, p.Name)
			}
			if !slices.Equal(names, tc.want) {
				t.Errorf("got %v, want %v", names, tc.want)
			}
		})
	}
}

func rel(t *testing.T, s string) []debian.Alternatives {
	r, err := debian.ParseRelations(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestParseSourcesList(t *testing.T) {
	srcs, err := debian.ParseSourcesList([]byte("# comment\n\ndeb [arch=arm64 signed-by=keys/x.gpg] http://example.invalid/debian/ bookworm main contrib\n"), "Aptfile", "/app", "amd64")
	if err != nil {
		t.Fatal(err)
	}
	want := debian.Source{URL: "http://example.invalid/debian", Suite: "bookworm", Components: []string{"main", "contrib"}, Architecture: "arm64", Keyring: "/app/keys/x.gpg"}
	if len(srcs) != 1 || srcs[0].String() != want.String() {
		t.Fatalf("got %+v", srcs)
	}
	for _, bad := range []string{"deb http://x bookworm main", "deb-src [signed-by=/k] http://x b main", "deb [signed-by=/k] ftp://x b main", "deb [signed-by=/k trusted=yes] http://x b main", "deb [signed-by=/k] http://x"} {
		if _, err := debian.ParseSourcesList([]byte(bad), "Aptfile", "", "amd64"); err == nil || !strings.Contains(err.Error(), "Aptfile:1") {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}
