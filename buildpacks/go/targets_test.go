package golang

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// The default targets are named from go.mod and the package clauses alone, as go build
// would name them; anything unusual is left to go list.
func TestDirectTargets(t *testing.T) {
	write := func(t *testing.T, dir string, files map[string]string) string {
		for name, body := range files {
			p := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	cases := []struct {
		name     string
		files    map[string]string
		module   string
		patterns []string
		want     []Target
		ok       bool
	}{
		{"root main", map[string]string{"main.go": "package main\n", "main_test.go": "package main_test\n"}, "example.com/svc", []string{"."},
			[]Target{{Pattern: ".", ImportPath: "example.com/svc", Binary: "svc"}}, true},
		{"major version suffix", map[string]string{"main.go": "package main\n"}, "example.com/tool/v2", []string{"."},
			[]Target{{Pattern: ".", ImportPath: "example.com/tool/v2", Binary: "tool"}}, true},
		{"cmd dirs", map[string]string{"cmd/api/main.go": "package main\n", "cmd/worker/w.go": "package main\n"}, "example.com/m", []string{"./cmd/api", "./cmd/worker"},
			[]Target{{Pattern: "./cmd/api", ImportPath: "example.com/m/cmd/api", Binary: "api"}, {Pattern: "./cmd/worker", ImportPath: "example.com/m/cmd/worker", Binary: "worker"}}, true},
		{"two package clauses", map[string]string{"main.go": "package main\n", "gen.go": "//go:build ignore\n\npackage gen\n"}, "example.com/svc", []string{"."}, nil, false},
		{"workspace", map[string]string{"main.go": "package main\n", "go.work": "go 1.26\n"}, "example.com/svc", []string{"."}, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := write(t, t.TempDir(), tc.files)
			got, ok := directTargets(dir, tc.module, tc.patterns)
			if ok != tc.ok || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("directTargets = %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
