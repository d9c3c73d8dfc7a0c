package nodejs

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/slipway/slipway/buildpacks/sdk"
)

func TestReadConfigScriptsAndProjectPath(t *testing.T) {
	cases := []struct {
		name     string
		env      map[string]string
		scripts  []string
		required bool
		project  string
		wantErr  string
	}{
		{"default build script, optional", nil, []string{"build"}, false, "", ""},
		{"BP_NODE_RUN_SCRIPTS in order", map[string]string{"BP_NODE_RUN_SCRIPTS": "lint, build ,,test"}, []string{"lint", "build", "test"}, true, "", ""},
		{"BP_NODE_BUILD_SCRIPT", map[string]string{"BP_NODE_BUILD_SCRIPT": "compile"}, []string{"compile"}, true, "", ""},
		{"project path", map[string]string{"BP_NODE_PROJECT_PATH": "./web/"}, []string{"build"}, false, "web", ""},
		{"project path escaping", map[string]string{"BP_NODE_PROJECT_PATH": "../x"}, nil, false, "", "inside the app"},
		{"bad source", map[string]string{"BP_NODE_SOURCE": "ftp"}, nil, false, "", "BP_NODE_SOURCE"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ReadConfig(sdk.Environ(tc.env), t.TempDir())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(c.Scripts, tc.scripts) || c.ScriptsRequired != tc.required || c.ProjectPath != tc.project {
				t.Fatalf("got %+v, %v", c, err)
			}
		})
	}
}

// BP_NODE_VERSION and NODE_ENV come from the build env or <platform>/env (where project.toml's
// build env lands); only a NODE_ENV other than production keeps dev dependencies at launch.
func TestReadConfigVersionAndNodeEnv(t *testing.T) {
	platform := t.TempDir()
	os.MkdirAll(filepath.Join(platform, "env"), 0o755)
	os.WriteFile(filepath.Join(platform, "env", "NODE_ENV"), []byte("development"), 0o644)
	c, err := ReadConfig(sdk.Environ{"BP_NODE_VERSION": "20.x"}, platform)
	if err != nil || c.Version != "20.x" || c.NodeEnv != "development" || !c.DevAtLaunch() {
		t.Fatalf("got %+v, %v", c, err)
	}
	for _, env := range []string{"", "production"} {
		if c, err := ReadConfig(sdk.Environ{"NODE_ENV": env}, t.TempDir()); err != nil || c.DevAtLaunch() {
			t.Errorf("NODE_ENV=%q: DevAtLaunch = %v, %v", env, c.DevAtLaunch(), err)
		}
	}
}

func TestDetect(t *testing.T) {
	cases := []struct {
		name  string
		files []string
		env   map[string]string
		pass  bool
	}{
		{"package.json", []string{"package.json"}, nil, true},
		{"bare server.js", []string{"server.js"}, nil, true},
		{"bare app.js", []string{"app.js"}, nil, true},
		{"launchpoint", []string{"src/start.js"}, map[string]string{"BP_LAUNCHPOINT": "src/start.js"}, true},
		{"project path", []string{"web/package.json"}, map[string]string{"BP_NODE_PROJECT_PATH": "web"}, true},
		{"nothing", []string{"README.md"}, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range tc.files {
				os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755)
				body := ""
				if strings.HasSuffix(f, ".json") {
					body = "{}"
				}
				os.WriteFile(filepath.Join(dir, f), []byte(body), 0o644)
			}
			res, err := Detect(context.Background(), sdk.DetectContext{AppDir: dir, PlatformDir: t.TempDir(), Env: sdk.Environ(tc.env)})
			if err != nil || res.Pass != tc.pass {
				t.Fatalf("pass=%v err=%v reason=%q", res.Pass, err, res.Reason)
			}
		})
	}
}

func TestChooseTool(t *testing.T) {
	cases := []struct {
		name       string
		pm         PackageManager
		pkg        PackageJSON
		lock       string
		noCorepack string
		corepack   bool
		constraint string
	}{
		{"yarn 1 without packageManager", PackageManager{Name: "yarn"}, PackageJSON{}, "", "", false, "1.x"},
		{"yarn 1 pinned never uses corepack", PackageManager{Name: "yarn"}, PackageJSON{PackageManager: "yarn@1.22.22"}, "", "", false, "1.22.22"},
		{"yarn engines", PackageManager{Name: "yarn"}, PackageJSON{Engines: engines{"yarn": "^1.21"}}, "", "", false, "^1.21"},
		{"pnpm pinned with corepack", PackageManager{Name: "pnpm"}, PackageJSON{PackageManager: "pnpm@9.15.9"}, "", "", true, ""},
		{"pnpm pinned, old node", PackageManager{Name: "pnpm"}, PackageJSON{PackageManager: "pnpm@6.35.1"}, "", "old node", false, "6.35.1"},
		{"pnpm engines and lockfile", PackageManager{Name: "pnpm"}, PackageJSON{Engines: engines{"pnpm": ">=8"}}, "lockfileVersion: '9.0'\n", "", false, "(>=8) (>=9 <11)"},
		{"pnpm lockfile only", PackageManager{Name: "pnpm"}, PackageJSON{}, "lockfileVersion: '6.0'\n", "", false, "8.x"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := chooseTool(tc.pm, &tc.pkg, []byte(tc.lock), tc.noCorepack)
			if err != nil || c.Corepack != tc.corepack || c.Constraint != tc.constraint {
				t.Fatalf("got %+v, %v", c, err)
			}
			if _, err := parseConstraints(c.Constraint); !c.Corepack && err != nil {
				t.Fatalf("constraint %q does not parse: %v", c.Constraint, err)
			}
		})
	}
	c, err := chooseTool(PackageManager{Name: "yarn"}, &PackageJSON{PackageManager: "yarn@1.22.22+sha512.a6b2f7906b721bba3d67d4aff083df04dad64c399707841b7acf00f6b133b7ac24255f2652fa22ae3534329dc6180534e98d17432037ff6fd140556e2bb3137e"}, nil, "")
	if err != nil || c.Pinned == nil || c.Pinned.Algorithm != "sha512" || len(c.Pinned.Sum) != 64 {
		t.Fatalf("pinned hash: %+v, %v", c, err)
	}
}

func TestImageLabels(t *testing.T) {
	got, err := imageLabels(`org.opencontainers.image.source=https://x.example team="web ops" empty='' a=b`)
	want := []sdk.Label{{Key: "org.opencontainers.image.source", Value: "https://x.example"}, {Key: "team", Value: "web ops"}, {Key: "empty", Value: ""}, {Key: "a", Value: "b"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, %v", got, err)
	}
	for _, bad := range []string{"novalue", `k="open`, "=v"} {
		if _, err := imageLabels(bad); err == nil || !strings.Contains(err.Error(), "BP_IMAGE_LABELS") {
			t.Errorf("imageLabels(%q) err = %v", bad, err)
		}
	}
}

func TestLaunchEnvFromBPE(t *testing.T) {
	layers, platform := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(platform, "env"), 0o755)
	os.WriteFile(filepath.Join(platform, "env", "BPE_DEFAULT_LOG_LEVEL"), []byte("info"), 0o644)
	var log strings.Builder
	bc := sdk.BuildContext{PlatformDir: platform, Layers: sdk.Layers{Path: layers}, Log: sdk.NewLogger(&log),
		Env: sdk.Environ{"BPE_GREETING": "hi there", "BPE_APPEND_PATH": "/opt/x"}}
	if err := contributeLaunchEnv(bc); err != nil {
		t.Fatal(err)
	}
	for f, want := range map[string]string{"LOG_LEVEL.default": "info", "GREETING.override": "hi there", "PATH.append": "/opt/x", "PATH.delim": ":"} {
		b, err := os.ReadFile(filepath.Join(layers, "env", "env.launch", f))
		if err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", f, b, err, want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(layers, "env.toml")); !strings.Contains(string(b), "launch = true") {
		t.Errorf("env.toml:\n%s", b)
	}
}

func TestStripRootScripts(t *testing.T) {
	p := filepath.Join(t.TempDir(), "package.json")
	os.WriteFile(p, []byte(`{"name":"x","scripts":{"postinstall":"tsc","start":"node dist/a.js"},"dependencies":{"ms":"2.1.3"}}`), 0o644)
	if err := stripRootScripts(p); err != nil {
		t.Fatal(err)
	}
	pkg, err := ReadPackageJSON(filepath.Dir(p))
	if err != nil || pkg.Scripts["postinstall"] != "" || pkg.Scripts["start"] == "" || string(pkg.deps["dependencies"]) == "" {
		t.Fatalf("after strip: %+v %v", pkg, err)
	}
}

func TestCorepackReason(t *testing.T) {
	tail := []string{"/x/corepack.cjs:22418", "    throw new Error(`Mismatch hashes. Expected ${build[1]}, got ${actualHash}`);", "", "Error: Mismatch hashes. Expected ab, got cd", "    at installVersion (/x/corepack.cjs:1:1)", "", "Node.js v22.23.5"}
	if got := corepackReason(tail); got != "Mismatch hashes. Expected ab, got cd" {
		t.Errorf("reason = %q", got)
	}
	if got := corepackReason([]string{"fetch failed", "Node.js v22.1.0"}); got != "fetch failed" {
		t.Errorf("reason without an Error line = %q", got)
	}
}
