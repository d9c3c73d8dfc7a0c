package debian_test

import (
	"testing"

	"github.com/slipway/slipway/debian"
)

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want int // sign
	}{
		{"equal", "1.0-1", "1.0-1", 0},
		{"numeric not lexical", "1.10", "1.9", 1},
		{"revision", "2.36-9", "2.36-9+deb12u4", -1},
		{"security update", "2.36-9+deb12u4", "2.36-9+deb12u3", 1},
		{"epoch wins", "1:1.0", "2.0", 1},
		{"tilde sorts before end", "1.0~rc1", "1.0", -1},
		{"tilde before tilde-tilde", "1.0~~", "1.0~", -1},
		{"letters before other chars", "1.0a", "1.0+", -1},
		{"leading zeros", "1.002", "1.2", 0},
		{"missing revision", "1.0", "1.0-0", 0},
		{"long numbers", "20260101000000000001", "20260101000000000002", -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := debian.CompareVersions(tc.a, tc.b)
			if sign(got) != tc.want {
				t.Errorf("CompareVersions(%q, %q) = %d, want sign %d", tc.a, tc.b, got, tc.want)
			}
			if sign(debian.CompareVersions(tc.b, tc.a)) != -tc.want {
				t.Errorf("not antisymmetric for %q, %q", tc.a, tc.b)
			}
		})
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

func TestParseRelations(t *testing.T) {
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{"plain and versioned", "libc6 (>= 2.36), zlib1g", "libc6 (>= 2.36); zlib1g", false},
		{"alternatives", "debconf (>= 0.5) | debconf-2.0", "debconf (>= 0.5) | debconf-2.0", false},
		{"arch qualifier dropped", "python3:any (>= 3.11)", "python3 (>= 3.11)", false},
		{"obsolete operator", "foo (> 1)", "foo (>= 1)", false},
		{"no spaces", "foo(>=1.2)", "foo (>= 1.2)", false},
		{"bad operator", "foo (~ 1)", "", true},
		{"unclosed", "foo (>= 1", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rels, err := debian.ParseRelations(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("want an error for %q", tc.in)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got string
			for i, a := range rels {
				if i > 0 {
					got += "; "
				}
				got += a.String()
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
