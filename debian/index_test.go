package debian_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/slipway/slipway/debian"
)

func pkg(t *testing.T, name, version, preDepends, depends, provides, priority string) *debian.Package {
	t.Helper()
	p := &debian.Package{Name: name, Version: version, Architecture: "amd64", Priority: priority, SHA256: name + version, Filename: name + ".deb"}
	var err error
	if p.PreDepends, err = debian.ParseRelations(preDepends); err != nil {
		t.Fatal(err)
	}
	if p.Depends, err = debian.ParseRelations(depends); err != nil {
		t.Fatal(err)
	}
	prov, err := debian.ParseRelations(provides)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range prov {
		p.Provides = append(p.Provides, a...)
	}
	return p
}

func TestResolve(t *testing.T) {
	idx := debian.NewIndex()
	for _, p := range []*debian.Package{
		pkg(t, "libc6", "2.36-9", "", "libgcc-s1", "", "required"),
		pkg(t, "libc6", "2.36-9+deb12u4", "", "libgcc-s1", "", "required"),
		pkg(t, "libgcc-s1", "12.2", "", "libc6 (>= 2.35)", "", "required"), // a cycle
		pkg(t, "gawk", "5.2", "libc6, libreadline8", "", "awk", "optional"),
		pkg(t, "mawk", "1.3.4", "libc6", "", "awk", "required"),
		pkg(t, "base-files", "12.4", "awk", "", "", "required"),
		pkg(t, "tzdata", "2024a", "", "debconf (>= 0.5) | debconf-2.0", "", "required"),
		pkg(t, "cdebconf", "0.270", "", "libc6", "debconf-2.0", "optional"),
		pkg(t, "app", "1.0", "", "libfoo | libc6", "", "optional"),
		pkg(t, "needs-new", "1.0", "", "libc6 (>= 3.0)", "", "optional"),
		pkg(t, "top", "1.0", "", "middle", "", "optional"),
		pkg(t, "middle", "1.0", "", "libc6, ghost (>= 2)", "", "optional"),
		pkg(t, "picky", "1.0", "", "broken | libc6", "", "optional"),
		pkg(t, "broken", "1.0", "", "ghost", "", "optional"),
		pkg(t, "mta-user", "1.0", "", "mail-transport-agent (>= 1)", "", "optional"),
		pkg(t, "postfix", "3.7", "", "", "mail-transport-agent", "optional"),
	} {
		idx.Add(p)
	}
	tests := []struct {
		name      string
		install   []string
		want      []string // name version, in install order
		wantChain string   // error: the dependency chain
	}{
		{"newest version, dependencies first, cycle ends", []string{"libc6"}, []string{"libgcc-s1 12.2", "libc6 2.36-9+deb12u4"}, ""},
		{"virtual: the required provider wins (mawk, not gawk)", []string{"base-files"}, []string{"libgcc-s1 12.2", "libc6 2.36-9+deb12u4", "mawk 1.3.4", "base-files 12.4"}, ""},
		{"first alternative that exists", []string{"tzdata"}, []string{"libgcc-s1 12.2", "libc6 2.36-9+deb12u4", "cdebconf 0.270", "tzdata 2024a"}, ""},
		{"alternative already selected wins", []string{"libc6", "app"}, []string{"libgcc-s1 12.2", "libc6 2.36-9+deb12u4", "app 1.0"}, ""},
		{"unsatisfiable first alternative falls back", []string{"picky"}, []string{"libgcc-s1 12.2", "libc6 2.36-9+deb12u4", "picky 1.0"}, ""},
		{"missing package", []string{"nope"}, nil, "nope"},
		{"version too new", []string{"needs-new"}, nil, "needs-new → libc6 (>= 3.0)"},
		{"missing dependency deep down", []string{"top"}, nil, "top → middle → ghost (>= 2)"},
		{"unversioned provide does not meet a versioned relation", []string{"mta-user"}, nil, "mta-user → mail-transport-agent (>= 1)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := idx.Resolve(tc.install)
			if tc.wantChain != "" {
				var ue *debian.UnsatisfiableError
				if !errors.As(err, &ue) {
					t.Fatalf("err = %v, want *UnsatisfiableError", err)
				}
				if !strings.Contains(err.Error(), tc.wantChain) {
					t.Errorf("err = %q, want the chain %q", err, tc.wantChain)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, p := range got {
				names = append(names, p.String())
			}
			if strings.Join(names, ", ") != strings.Join(tc.want, ", ") {
				t.Errorf("resolved %v, want %v", names, tc.want)
			}
		})
	}
}
