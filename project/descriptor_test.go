package project

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func writeProject(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "project.toml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// extensions/project-descriptor.md: both schemas normalize into one Descriptor.
func TestRead(t *testing.T) {
	tests := []struct {
		name string
		toml string
		want Descriptor
	}{
		{
			name: "schema 0.2 full",
			toml: `
[_]
schema-version = "0.2"
id = "io.example.app"
name = "App"
version = "1.2.3"
authors = ["a", "b"]
documentation-url = "https://doc"
source-url = "https://src"
[[_.licenses]]
type = "MIT"
[_.metadata]
team = "x"

[io.buildpacks]
builder = "example/builder"
exclude = ["*.log", "node_modules/"]

[[io.buildpacks.group]]
id = "example/node"
version = "1.0.0"
[[io.buildpacks.group]]
uri = "./local-bp"
[[io.buildpacks.group]]
id = "example/inline"
  [io.buildpacks.group.script]
  api = "0.12"
  inline = "echo hi"

[[io.buildpacks.pre.group]]
id = "example/pre"
[[io.buildpacks.post.group]]
id = "example/post"
version = "2.0.0"

[[io.buildpacks.build.env]]
name = "FOO"
value = "bar"

[com.other.tool]
anything = true
`,
			want: Descriptor{
				SchemaVersion: Schema02, ID: "io.example.app", Name: "App", Version: "1.2.3",
				Authors: []string{"a", "b"}, DocumentationURL: "https://doc", SourceURL: "https://src",
				Licenses: []License{{Type: "MIT"}},
				Builder:  "example/builder", Exclude: []string{"*.log", "node_modules/"},
				Buildpacks: []BuildpackRef{
					{ID: "example/node", Version: "1.0.0"},
					{URI: "./local-bp"},
					{ID: "example/inline", Script: &Script{API: "0.12", Inline: "echo hi", Shell: "/bin/sh"}},
				},
				Pre:      []BuildpackRef{{ID: "example/pre"}},
				Post:     []BuildpackRef{{ID: "example/post", Version: "2.0.0"}},
				Env:      []EnvVar{{Name: "FOO", Value: "bar"}},
				Metadata: map[string]any{"team": "x"},
			},
		},
		{
			name: "schema 0.2 legacy io.buildpacks.env.build key",
			toml: `
[_]
schema-version = "0.2"
[io.buildpacks]
include = ["src/"]
[[io.buildpacks.env.build]]
name = "A"
value = "1"
`,
			want: Descriptor{SchemaVersion: Schema02, Include: []string{"src/"}, Env: []EnvVar{{Name: "A", Value: "1"}}},
		},
		{
			name: "schema 0.2 unknown key in owned table warns",
			toml: `
[_]
schema-version = "0.2"
[io.buildpacks]
buildr = "typo"
`,
			want: Descriptor{SchemaVersion: Schema02, Warnings: []string{`unknown key "io.buildpacks.buildr" is ignored`}},
		},
		{
			name: "schema 0.1 full",
			toml: `
[project]
id = "io.example.app"
name = "App"
version = "0.1.0"
authors = ["me"]
[[project.licenses]]
uri = "https://license"

[build]
builder = "b"
include = ["*.go"]
[[build.env]]
name = "X"
value = "y"
[[build.buildpacks]]
id = "example/go"
version = "1.0.0"
[[build.buildpacks]]
id = "example/inline"
  [build.buildpacks.script]
  api = "0.10"
  inline = "make"
  shell = "/bin/bash"

[metadata]
k = "v"
`,
			want: Descriptor{
				SchemaVersion: Schema01, ID: "io.example.app", Name: "App", Version: "0.1.0",
				Authors: []string{"me"}, Licenses: []License{{URI: "https://license"}},
				Builder: "b", Include: []string{"*.go"}, Env: []EnvVar{{Name: "X", Value: "y"}},
				Buildpacks: []BuildpackRef{
					{ID: "example/go", Version: "1.0.0"},
					{ID: "example/inline", Script: &Script{API: "0.10", Inline: "make", Shell: "/bin/bash"}},
				},
				Metadata: map[string]any{"k": "v"},
			},
		},
		{
			name: "inline script may carry a version (as pack allows)",
			toml: `
[_]
schema-version = "0.2"
[[io.buildpacks.group]]
id = "example/inline"
version = "1.0.0"
[io.buildpacks.group.script]
api = "0.12"
inline = "true"
`,
			want: Descriptor{SchemaVersion: Schema02, Buildpacks: []BuildpackRef{
				{ID: "example/inline", Version: "1.0.0", Script: &Script{API: "0.12", Inline: "true", Shell: DefaultShell}},
			}},
		},
		{
			name: "0.2 tables without schema-version are read as 0.1 and flagged",
			toml: "[io.buildpacks]\nbuilder = \"b\"\n",
			want: Descriptor{SchemaVersion: Schema01, Warnings: []string{`unknown key "io.buildpacks.builder" is ignored`}},
		},
		{
			name: "empty file is schema 0.1",
			toml: ``,
			want: Descriptor{SchemaVersion: Schema01},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Read(writeProject(t, tc.toml))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", *got, tc.want)
			}
		})
	}
}

// extensions/project-descriptor.md: every rejected descriptor names the file and what is wrong.
func TestReadErrors(t *testing.T) {
	tests := []struct {
		name string
		toml string
		want []string // substrings of the error
	}{
		{"syntax error has line and column", "[_]\nschema-version = \"0.2\"\nname = \n", []string{"project.toml", "line 3", "column"}},
		{"type error has line", "[_]\nschema-version = \"0.2\"\n[io.buildpacks]\ninclude = \"notalist\"\n", []string{"project.toml", "line 4"}},
		{"missing schema-version under [_]", "[_]\nname = \"x\"\n", []string{"project.toml", "schema-version"}},
		{"unsupported schema-version", "[_]\nschema-version = \"9.9\"\n", []string{"project.toml", `"9.9"`}},
		{"0.2 include and exclude", "[_]\nschema-version = \"0.2\"\n[io.buildpacks]\ninclude = []\nexclude = []\n", []string{"project.toml", "[io.buildpacks] has both include and exclude; use one"}},
		{"0.1 include and exclude", "[build]\ninclude = [\"a\"]\nexclude = [\"b\"]\n", []string{"project.toml", "[build] has both include and exclude"}},
		{"license without type or uri", "[_]\nschema-version = \"0.2\"\n[[_.licenses]]\n", []string{"[[_.licenses]] entry 1", "type or uri"}},
		{"group entry with version and uri", "[_]\nschema-version = \"0.2\"\n[[io.buildpacks.group]]\nid = \"a\"\nversion = \"1.0.0\"\nuri = \"x\"\n", []string{"[[io.buildpacks.group]] entry 1", "only one of version, uri or [script]"}},
		{"group entry empty", "[_]\nschema-version = \"0.2\"\n[[io.buildpacks.group]]\nversion = \"1.0.0\"\n", []string{"[[io.buildpacks.group]] entry 1", "set id"}},
		{"pre group entry invalid", "[_]\nschema-version = \"0.2\"\n[[io.buildpacks.pre.group]]\n", []string{"[[io.buildpacks.pre.group]] entry 1"}},
		{"post group entry invalid", "[_]\nschema-version = \"0.2\"\n[[io.buildpacks.post.group]]\nuri = \"u\"\nversion = \"1.0.0\"\n", []string{"[[io.buildpacks.post.group]] entry 1"}},
		{"script without id", "[_]\nschema-version = \"0.2\"\n[[io.buildpacks.group]]\nuri = \"u\"\n[io.buildpacks.group.script]\napi = \"0.12\"\ninline = \"x\"\n", []string{"only one of"}},
		{"script without api", "[_]\nschema-version = \"0.2\"\n[[io.buildpacks.group]]\nid = \"a\"\n[io.buildpacks.group.script]\ninline = \"x\"\n", []string{"needs api"}},
		{"script with unsupported api", "[_]\nschema-version = \"0.2\"\n[[io.buildpacks.group]]\nid = \"a\"\n[io.buildpacks.group.script]\napi = \"0.1\"\ninline = \"x\"\n", []string{"project.toml", "0.1"}},
		{"script without inline", "[_]\nschema-version = \"0.2\"\n[[io.buildpacks.group]]\nid = \"a\"\n[io.buildpacks.group.script]\napi = \"0.12\"\n", []string{"needs inline"}},
		{"env without name", "[_]\nschema-version = \"0.2\"\n[[io.buildpacks.build.env]]\nvalue = \"x\"\n", []string{"[[io.buildpacks.build.env]] entry 1", "needs a name"}},
		{"env name escaping platform dir", "[[build.env]]\nname = \"../../etc/x\"\nvalue = \"x\"\n", []string{"[[build.env]] entry 1", "may not contain"}},
		{"0.1 buildpack invalid", "[[build.buildpacks]]\nid = \"a\"\nversion = \"1.0.0\"\nuri = \"u\"\n", []string{"[[build.buildpacks]] entry 1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(writeProject(t, tc.toml))
			if err == nil {
				t.Fatal("want error, got nil")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestReadMissingFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "project.toml")
	_, err := Read(p)
	if err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("want error naming %s, got %v", p, err)
	}
}
