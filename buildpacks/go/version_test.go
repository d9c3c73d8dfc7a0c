package golang

import (
	"errors"
	"strings"
	"testing"
)

var available = []string{"go1.25.9", "go1.26.0", "go1.26.1", "go1.26.11", "go1.26.8", "go1.27rc1", "go1.27.0", "go1.27.4", "go1.28rc2"}

func TestResolve(t *testing.T) {
	cases := []struct {
		name    string
		setting string
		mod     *GoMod
		want    string
		wantErr string
	}{
		{"default is the newest stable", "", nil, "go1.27.4", ""},
		{"latest", "latest", &GoMod{Go: "go1.25"}, "go1.27.4", ""},
		{"BP_GO_VERSION exact", "1.26.8", &GoMod{Go: "go1.27"}, "go1.26.8", ""},
		{"BP_GO_VERSION with go prefix", "go1.26.1", nil, "go1.26.1", ""},
		{"BP_GO_VERSION language version", "1.26", nil, "go1.26.11", ""},
		{"BP_GO_VERSION wildcard", "1.26.x", nil, "go1.26.11", ""},
		{"BP_GO_VERSION release candidate", "1.28rc2", nil, "go1.28rc2", ""},
		{"toolchain line is exact", "", &GoMod{Go: "go1.26", Toolchain: "go1.26.8"}, "go1.26.8", ""},
		{"toolchain line older than go line loses", "", &GoMod{Go: "go1.27.0", Toolchain: "go1.26.8"}, "go1.27.4", ""},
		{"go line: newest patch of its language version", "", &GoMod{Go: "go1.26.1"}, "go1.26.11", ""},
		{"go line without patch", "", &GoMod{Go: "go1.25"}, "go1.25.9", ""},
		{"go line past the language's last patch moves on", "", &GoMod{Go: "go1.25.10"}, "go1.27.4", ""},
		{"go line rc takes the release", "", &GoMod{Go: "go1.27rc1"}, "go1.27.4", ""},
		{"go line newer than any toolchain", "", &GoMod{Go: "go1.99"}, "", "matches go.mod go line 1.99; available: 1.27.4, 1.26.11, 1.25.9"},
		{"exact version missing", "1.26.99", nil, "", "matches BP_GO_VERSION 1.26.99"},
		{"bad setting", "one.two", nil, "", "BP_GO_VERSION=\"one.two\""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := FindRequirement(tc.setting, tc.mod)
			var got string
			if err == nil {
				got, err = Resolve(req, available)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %q, %v; want error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	_, err := Resolve(Requirement{From: "go.mod go line", Minimum: "go1.99"}, available)
	var nv *NoVersionError
	if !errors.As(err, &nv) {
		t.Fatalf("err %T, want *NoVersionError", err)
	}
}

func TestReadGoMod(t *testing.T) {
	dir := t.TempDir()
	writeTestFile(t, dir, "go.mod", "module example.com/x\n\ngo 1.26.1\n\ntoolchain go1.26.8+custom\n")
	m, err := ReadGoMod(dir)
	if err != nil || m.Module != "example.com/x" || m.Go != "go1.26.1" || m.Toolchain != "go1.26.8" {
		t.Fatalf("ReadGoMod = %+v, %v", m, err)
	}
	writeTestFile(t, dir, "go.mod", "module example.com/x\n\ngo 1.26.1\n\ntoolchain default\n")
	if m, err := ReadGoMod(dir); err != nil || m.Toolchain != "" {
		t.Fatalf("toolchain default: %+v, %v", m, err)
	}
	writeTestFile(t, dir, "go.mod", "module example.com/x\ngo 1..2\n")
	if _, err := ReadGoMod(dir); err == nil || !strings.Contains(err.Error(), "go.mod:2") {
		t.Fatalf("bad go line: %v, want an error naming go.mod:2", err)
	}
	if m, err := ReadGoMod(t.TempDir()); m != nil || err != nil {
		t.Fatalf("no go.mod: %+v, %v", m, err)
	}
}
