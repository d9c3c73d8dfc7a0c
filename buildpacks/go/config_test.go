package golang

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/slipway/slipway/buildpacks/sdk"
)

func writeTestFile(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestSplitShell(t *testing.T) {
	cases := map[string][]string{
		"":                                 nil,
		"-tags foo -race":                  {"-tags", "foo", "-race"},
		`-tags "a b" -gcflags='all=-N -l'`: {"-tags", "a b", "-gcflags=all=-N -l"},
		`-ldflags=-X\ main.v=1`:            {"-ldflags=-X main.v=1"},
		"  spaced\tout\n":                  {"spaced", "out"},
	}
	for in, want := range cases {
		got, err := splitShell(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("splitShell(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := splitShell(`-tags "open`); err == nil {
		t.Error("unterminated quote accepted")
	}
}

func TestReadConfig(t *testing.T) {
	platform := t.TempDir()
	writeTestFile(t, platform, "env/GOPRIVATE", "example.com/private\n")
	writeTestFile(t, platform, "env/BP_GO_TARGETS", "./cmd/api:cmd/worker")
	env := sdk.NewEnviron([]string{"BP_GO_BUILD_FLAGS=-tags netgo", "BP_KEEP_FILES=static/*:templates/**", "CGO_ENABLED=1"})
	c, err := ReadConfig(env, platform)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Targets, []string{"./cmd/api", "cmd/worker"}) || !reflect.DeepEqual(c.BuildFlags, []string{"-tags", "netgo"}) ||
		!reflect.DeepEqual(c.KeepFiles, []string{"static/*", "templates/**"}) || !reflect.DeepEqual(c.Sources, []string{"official", "proxy"}) {
		t.Fatalf("config %+v", c)
	}
	if c.goEnv("GONOSUMDB") != "example.com/private" || c.goEnv("GOPROXY") != DefaultGOPROXY || c.GoEnv["CGO_ENABLED"] != "1" {
		t.Fatalf("go env %v", c.GoEnv)
	}
	if _, err := ReadConfig(sdk.NewEnviron([]string{"BP_GO_TOOLCHAIN_SOURCES=ftp"}), platform); err == nil || !strings.Contains(err.Error(), "BP_GO_TOOLCHAIN_SOURCES") {
		t.Fatalf("unknown source: %v", err)
	}
}

func TestRemoveSource(t *testing.T) {
	app := t.TempDir()
	for _, f := range []string{"main.go", "go.mod", "internal/x/x.go", "static/index.html", "static/css/site.css", "templates/a/b.tmpl", "Procfile", "README.md"} {
		writeTestFile(t, app, f, "x")
	}
	n, err := removeSource(app, []string{"static/*", "templates/**"})
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	filepath.WalkDir(app, func(p string, d os.DirEntry, err error) error {
		if !d.IsDir() {
			rel, _ := filepath.Rel(app, p)
			left = append(left, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(left)
	want := []string{"Procfile", "static/css/site.css", "static/index.html", "templates/a/b.tmpl"}
	if !reflect.DeepEqual(left, want) || n != 4 {
		t.Fatalf("left %q (removed %d), want %q (removed 4)", left, n, want)
	}
	if _, err := os.Stat(filepath.Join(app, "internal")); !os.IsNotExist(err) {
		t.Errorf("empty source directory internal/ left behind")
	}
}

func TestDetect(t *testing.T) {
	cases := []struct {
		name   string
		files  map[string]string
		pass   bool
		reason string
	}{
		{"go.mod", map[string]string{"go.mod": "module x\n"}, true, ""},
		{"main without go.mod", map[string]string{"main.go": "package main\nfunc main() {}\n"}, true, ""},
		{"library without go.mod", map[string]string{"lib.go": "package lib\n", "lib_test.go": "package main\n"}, false, "package lib, not main"},
		{"nothing", map[string]string{"index.js": ""}, false, "no go.mod and no *.go files"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			app := t.TempDir()
			for f, c := range tc.files {
				writeTestFile(t, app, f, c)
			}
			res, err := Detect(t.Context(), sdk.DetectContext{AppDir: app})
			if err != nil || res.Pass != tc.pass || !strings.Contains(res.Reason, tc.reason) {
				t.Fatalf("Detect = %+v, %v", res, err)
			}
		})
	}
}

func TestBinaryName(t *testing.T) {
	for in, want := range map[string]string{"example.com/a/cmd/api": "api", "example.com/tool/v2": "tool", "app": "app", "v2": "v2"} {
		if got := binaryName(in); got != want {
			t.Errorf("binaryName(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"cmd/api": "./cmd/api", "./x": "./x", ".": ".", "example.com/m/cmd/x": "example.com/m/cmd/x"} {
		if got := relPattern(in); got != want {
			t.Errorf("relPattern(%q) = %q, want %q", in, got, want)
		}
	}
}
