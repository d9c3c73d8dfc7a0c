package sdk

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func tgz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func sri(b []byte) string {
	s := sha512.Sum512(b)
	return "sha512-" + base64.StdEncoding.EncodeToString(s[:])
}

// A download is verified before anything reads it: a mismatch leaves no file behind.
func TestDownloadVerifiesBeforeExtraction(t *testing.T) {
	good := tgz(t, map[string]string{"package/bin/node": "#!/bin/sh\n"})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(good) }))
	defer srv.Close()
	cases := []struct {
		name, integrity string
		wantErr         bool
	}{
		{"matching sha512", sri(good), false},
		{"mismatch refused", sri([]byte("other bytes")), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sum, err := ParseSRI(tc.integrity)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			f := &Fetcher{}
			file, err := f.Download(context.Background(), srv.URL+"/node.tgz", sum, dir)
			var ce *ChecksumError
			if tc.wantErr {
				if !errors.As(err, &ce) || !strings.Contains(err.Error(), "refusing") {
					t.Fatalf("err = %v, want *ChecksumError", err)
				}
				if ents, _ := os.ReadDir(dir); len(ents) != 0 {
					t.Fatalf("unverified download left on disk: %v", ents)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			dest := t.TempDir()
			if err := ExtractTarGz(file, dest, 1); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(dest, "bin", "node")); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestParseSRI(t *testing.T) {
	cases := []struct {
		name, in, alg string
		wantErr       bool
	}{
		{"sha512", sri([]byte("x")), "sha512", false},
		{"strongest of several", "sha1-AAAA " + sri([]byte("x")), "sha512", false},
		{"sha1 only", "sha1-2jmj7l5rSw0yVb/vlWAYkK/YBwk=", "", true},
		{"garbage", "not-an-sri", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseSRI(tc.in)
			if (err != nil) != tc.wantErr || c.Algorithm != tc.alg {
				t.Fatalf("ParseSRI(%q) = %v, %v", tc.in, c, err)
			}
		})
	}
}

func TestExtractRefusesEscapes(t *testing.T) {
	file := filepath.Join(t.TempDir(), "evil.tgz")
	os.WriteFile(file, tgz(t, map[string]string{"package/../../evil": "x"}), 0o644)
	if err := ExtractTarGz(file, t.TempDir(), 1); err == nil {
		t.Fatal("extracted an entry outside the destination")
	}
}

func TestMirrorResolve(t *testing.T) {
	f := &Fetcher{Mirrors: []Mirror{{From: "https://nodejs.org/dist", To: "http://mirror.local/node/"}}}
	cases := map[string]string{
		"https://nodejs.org/dist/v22.1.0/x.tar.gz": "http://mirror.local/node/v22.1.0/x.tar.gz",
		"https://example.com/a":                    "https://example.com/a",
	}
	for in, want := range cases {
		if got := f.Resolve(in); got != want {
			t.Errorf("Resolve(%q) = %q, want %q", in, got, want)
		}
	}
}

// buildpack.md, Layer Content Metadata (TOML): restored metadata is read back, [types] must be set again; buildpack.md, Environment Variable Modification Rules env files.
func TestLayerRoundTrip(t *testing.T) {
	ls := Layers{Path: t.TempDir()}
	lay, err := ls.Get("deps")
	if err != nil {
		t.Fatal(err)
	}
	if err := lay.Reset(); err != nil {
		t.Fatal(err)
	}
	lay.Types = LayerTypes{Launch: true, Cache: true}
	lay.Metadata = map[string]any{"key": "abc", "n": 3}
	if err := lay.Write(); err != nil {
		t.Fatal(err)
	}
	if err := lay.LaunchEnv().Default("PORT", "8080"); err != nil {
		t.Fatal(err)
	}
	if err := lay.SharedEnv().Prepend("PATH", "/x/bin", ":"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(ls.Path, "deps.toml"))
	if !strings.Contains(string(b), "[types]") || !strings.Contains(string(b), "launch = true") {
		t.Errorf("deps.toml:\n%s", b)
	}
	if v, _ := os.ReadFile(filepath.Join(lay.Path, "env.launch", "PORT.default")); string(v) != "8080" {
		t.Errorf("PORT.default = %q (no newline may be added, buildpack.md, Environment Variable Modification Rules)", v)
	}
	if v, _ := os.ReadFile(filepath.Join(lay.Path, "env", "PATH.delim")); string(v) != ":" {
		t.Errorf("PATH.delim = %q", v)
	}
	again, err := ls.Get("deps")
	if err != nil {
		t.Fatal(err)
	}
	if again.Types != (LayerTypes{}) {
		t.Errorf("types restored: %+v", again.Types)
	}
	if !again.MetadataMatches(map[string]any{"key": "abc", "n": int64(3)}) {
		t.Errorf("metadata %v does not match", again.Metadata)
	}
	if again.MetadataMatches(map[string]any{"key": "other", "n": 3}) {
		t.Errorf("different metadata matched")
	}
	for _, name := range []string{"build", "launch", "store"} {
		if _, err := ls.Get(name); err == nil {
			t.Errorf("reserved layer name %q accepted (buildpack.md, Layers)", name)
		}
	}
}

// buildpack.md, Detection: argv0 picks the phase; a fail prints its reason and exits 100.
func TestMainDispatch(t *testing.T) {
	app := t.TempDir()
	plan := filepath.Join(t.TempDir(), "plan.toml")
	env := []string{"CNB_BUILD_PLAN_PATH=" + plan, "CNB_PLATFORM_DIR=" + t.TempDir()}
	wd, _ := os.Getwd()
	defer os.Chdir(wd)
	os.Chdir(app)
	detect := func(pass bool) DetectFunc {
		return func(context.Context, DetectContext) (DetectResult, error) {
			if pass {
				return Pass(BuildPlan{PlanSections: PlanSections{Provides: []Provide{{Name: "node"}}, Requires: []Require{{Name: "node"}}}}), nil
			}
			return Fail("no marker file"), nil
		}
	}
	cases := []struct {
		name, argv0 string
		pass        bool
		code        int
		out         string
	}{
		{"detect pass", "/cnb/buildpacks/x/bin/detect", true, 0, ""},
		{"detect fail", "/cnb/buildpacks/x/bin/detect", false, 100, "no marker file"},
		{"unknown phase", "/x/bin/generate", true, 1, "unknown phase"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			code := Main(context.Background(), []string{tc.argv0}, env, &out, detect(tc.pass), nil)
			if code != tc.code || !strings.Contains(out.String(), tc.out) {
				t.Fatalf("exit %d output %q", code, out.String())
			}
		})
	}
	var p BuildPlan
	if err := DecodeTOML(plan, &p); err != nil || len(p.Provides) != 1 || p.Requires[0].Name != "node" {
		t.Fatalf("plan %+v, %v", p, err)
	}
}
