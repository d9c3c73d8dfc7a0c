package buildpack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseClassicRelease(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		wantProcs []ClassicProcess
		wantVars  map[string]string
		wantWarn  string
		wantErr   string
	}{
		{name: "empty output", in: ""},
		{name: "empty mapping", in: "--- {}\n"},
		{name: "processes and config vars",
			in:        "---\ndefault_process_types:\n  web: bin/server -p $PORT\n  worker: bin/work\nconfig_vars:\n  LANG: en_US.UTF-8\n  RETRIES: 3\n",
			wantProcs: []ClassicProcess{{"web", "bin/server -p $PORT"}, {"worker", "bin/work"}},
			wantVars:  map[string]string{"LANG": "en_US.UTF-8", "RETRIES": "3"}},
		{name: "addons warn", in: "addons:\n  - heroku-postgresql\n", wantWarn: "line 1: addons"},
		{name: "syntax error has the line", in: "---\ndefault_process_types:\n  web: a\n   bad: [x\n", wantErr: "yaml: line 4"},
		{name: "wrong type has the line", in: "---\nconfig_vars:\n  - A\n", wantErr: "line 3: config_vars must be a mapping"},
		{name: "bad process type", in: "default_process_types:\n  'web server': x\n", wantErr: "may contain only"},
		{name: "not a mapping", in: "- web\n", wantErr: "line 1: expected a mapping"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rel, err := ParseClassicRelease([]byte(tc.in), "release")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(rel.Processes) != len(tc.wantProcs) {
				t.Fatalf("processes = %+v, want %+v", rel.Processes, tc.wantProcs)
			}
			for i := range tc.wantProcs {
				if rel.Processes[i] != tc.wantProcs[i] {
					t.Errorf("process %d = %+v, want %+v", i, rel.Processes[i], tc.wantProcs[i])
				}
			}
			for k, v := range tc.wantVars {
				if rel.ConfigVars[k] != v {
					t.Errorf("config var %s = %q, want %q", k, rel.ConfigVars[k], v)
				}
			}
			if tc.wantWarn != "" && (len(rel.Warnings) != 1 || !strings.Contains(rel.Warnings[0], tc.wantWarn)) {
				t.Errorf("warnings = %q, want %q", rel.Warnings, tc.wantWarn)
			}
		})
	}
}

func TestClassicNameAndVersion(t *testing.T) {
	for in, want := range map[string]string{
		"./my-classic-bp":                          "my-classic-bp",
		"/x/heroku-buildpack-apt.tgz":              "heroku-buildpack-apt",
		"https://host/org/Buildpack_Apt.git#v2":    "buildpack-apt",
		"https://host/dl/bp.tar.gz?token=1":        "bp",
		"git://127.0.0.1/repos/cf-supply.git#main": "cf-supply",
	} {
		if got := ClassicName(in); got != want {
			t.Errorf("ClassicName(%q) = %q, want %q", in, got, want)
		}
	}
	if got := ClassicVersion("v1.2.3", "abc"); got != "1.2.3" {
		t.Errorf("tag version = %q", got)
	}
	if got := ClassicVersion("feature/x", ""); got != "feature-x" {
		t.Errorf("branch version = %q", got)
	}
	if got := ClassicVersion("", "0123456789abcdef"); got != "sha256-0123456789ab" {
		t.Errorf("digest version = %q", got)
	}
}

func TestIsClassicDir(t *testing.T) {
	mk := func(files map[string]string) string {
		dir := t.TempDir()
		for p, c := range files {
			full := filepath.Join(dir, p)
			os.MkdirAll(filepath.Dir(full), 0o755)
			if err := os.WriteFile(full, []byte(c), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	tests := []struct {
		name  string
		files map[string]string
		want  bool
	}{
		{"heroku", map[string]string{"bin/detect": "", "bin/compile": "", "bin/release": ""}, true},
		{"cloud foundry", map[string]string{"bin/supply": "", "bin/finalize": ""}, true},
		{"heroku registry buildpack.toml", map[string]string{"bin/compile": "", "buildpack.toml": "[buildpack]\nname = \"x\"\n"}, true},
		{"cnb", map[string]string{"bin/build": "", "bin/compile": "", "buildpack.toml": "api = \"0.10\"\n"}, false},
		{"no scripts", map[string]string{"bin/detect": ""}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsClassicDir(mk(tc.files)); got != tc.want {
				t.Errorf("IsClassicDir = %v, want %v", got, tc.want)
			}
		})
	}
}

// SOURCE_VERSION: the user's value, else the app's checked-out commit (loose or packed ref,
// or a detached HEAD), else nothing.
func TestSourceVersion(t *testing.T) {
	const sha = "0123456789abcdef0123456789abcdef01234567"
	write := func(t *testing.T, dir, rel, content string) {
		p := filepath.Join(dir, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name  string
		files map[string]string
		env   string
		want  string
	}{
		{"user value wins", map[string]string{".git/HEAD": sha + "\n"}, "from-user", "from-user"},
		{"detached HEAD", map[string]string{".git/HEAD": sha + "\n"}, "", sha},
		{"loose ref", map[string]string{".git/HEAD": "ref: refs/heads/main\n", ".git/refs/heads/main": sha + "\n"}, "", sha},
		{"packed ref", map[string]string{".git/HEAD": "ref: refs/heads/main\n", ".git/packed-refs": "# pack-refs\n" + sha + " refs/heads/main\n"}, "", sha},
		{"not a git tree", nil, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			app, envDir := t.TempDir(), t.TempDir()
			for p, c := range tc.files {
				write(t, app, p, c)
			}
			if tc.env != "" {
				write(t, envDir, "SOURCE_VERSION", tc.env)
			}
			if got := sourceVersion(envDir, app); got != tc.want {
				t.Errorf("sourceVersion = %q, want %q", got, tc.want)
			}
		})
	}
}
