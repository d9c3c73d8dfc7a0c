package golang

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/dirhash"
	"golang.org/x/mod/sumdb/note"
	modzip "golang.org/x/mod/zip"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// toolchainZip is a golang.org/toolchain module zip holding a bin/go that prints marker.
func toolchainZip(t *testing.T, v, marker string) []byte {
	t.Helper()
	dir := t.TempDir()
	writeTestFile(t, dir, "go.mod", "module golang.org/toolchain\n")
	writeTestFile(t, dir, "bin/go", "#!/bin/sh\necho "+marker+"\n")
	writeTestFile(t, dir, "pkg/tool/linux_amd64/compile", "#!/bin/sh\n")
	var buf bytes.Buffer
	if err := modzip.CreateFromDir(&buf, module.Version{Path: toolchainModule, Version: "v0.0.1-" + v + ".linux-amd64"}, dir); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func h1(t *testing.T, zip []byte) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "z.zip")
	if err := os.WriteFile(f, zip, 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := dirhash.HashZip(f, dirhash.Hash1)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// fakeProxy is a module proxy serving toolchain zips (served) and a checksum database
// named sum.test (through /sumdb/sum.test/) that records the hashes of recorded.
type fakeProxy struct {
	URL, VerifierKey string
}

func startFakeProxy(t *testing.T, served, recorded map[string][]byte) fakeProxy {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, "sum.test")
	if err != nil {
		t.Fatal(err)
	}
	db := sumdb.NewServer(sumdb.NewTestServer(skey, func(path, vers string) ([]byte, error) {
		v := strings.TrimSuffix(strings.TrimPrefix(vers, "v0.0.1-"), ".linux-amd64")
		z, ok := recorded[v]
		if path != toolchainModule || !ok {
			return nil, fmt.Errorf("no such module")
		}
		return []byte(fmt.Sprintf("%s %s %s\n%s %s/go.mod h1:AAAA\n", path, vers, h1(t, z), path, vers)), nil
	}))
	mux := http.NewServeMux()
	mux.Handle("/sumdb/sum.test/", http.StripPrefix("/sumdb/sum.test", db))
	mux.HandleFunc("/sumdb/sum.test/supported", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/golang.org/toolchain/@v/", func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/golang.org/toolchain/@v/")
		if name == "list" {
			for v := range served {
				fmt.Fprintf(w, "v0.0.1-%s.linux-amd64\nv0.0.1-%s.darwin-arm64\n", v, v)
			}
			return
		}
		v := strings.TrimSuffix(strings.TrimPrefix(name, "v0.0.1-"), ".linux-amd64.zip")
		z, ok := served[v]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(z)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return fakeProxy{URL: srv.URL, VerifierKey: vkey}
}

func closedURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	return "http://" + l.Addr().String()
}

func buildContext(t *testing.T, env ...string) (sdk.BuildContext, *bytes.Buffer) {
	var out bytes.Buffer
	return sdk.BuildContext{AppDir: t.TempDir(), PlatformDir: t.TempDir(), Layers: sdk.Layers{Path: t.TempDir()},
		Env: sdk.NewEnviron(env), Log: sdk.NewLogger(&out)}, &out
}

// The proxy source installs a toolchain only when its h1: hash is the one the checksum
// database records; the official source, unreachable or answering 404, is passed over
// with a line saying so.
func TestProxyToolchainVerified(t *testing.T) {
	good := toolchainZip(t, "go1.26.2", "real go")
	evil := toolchainZip(t, "go1.26.2", "evil go")
	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	cases := []struct {
		name     string
		served   []byte
		env      []string
		official string
		wantErr  string
		wantLog  []string
	}{
		{"verified, official down", good, nil, closedURL(t), "",
			[]string{"unreachable", "connection refused", "Go 1.26.2 (go.mod go line 1.26) from module proxy", "against checksum database sum.test: h1:"}},
		{"verified, official 404", good, nil, notFound.URL, "", []string{"404 Not Found", "from module proxy"}},
		{"tampered zip refused", evil, nil, closedURL(t), "checksum mismatch for golang.org/toolchain@v0.0.1-go1.26.2.linux-amd64", nil},
		{"GONOSUMDB skips the check, loudly", evil, []string{"GONOSUMDB=golang.org"}, closedURL(t), "",
			[]string{"WARNING: golang.org/toolchain@v0.0.1-go1.26.2.linux-amd64 is NOT checked", "GONOSUMDB/GOPRIVATE"}},
		{"GOFLAGS=-insecure skips the check", evil, []string{"GOFLAGS=-insecure"}, closedURL(t), "", []string{"GOFLAGS=-insecure"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := startFakeProxy(t, map[string][]byte{"go1.26.2": tc.served}, map[string][]byte{"go1.26.2": good})
			env := append([]string{"GOPROXY=" + p.URL + ",direct", "GOSUMDB=" + p.VerifierKey, "BP_GO_DOWNLOAD_URL=" + tc.official}, tc.env...)
			bc, out := buildContext(t, env...)
			cfg, err := ReadConfig(bc.Env, bc.PlatformDir)
			if err != nil {
				t.Fatal(err)
			}
			lay, v, err := contributeToolchain(context.Background(), bc, cfg, Requirement{From: "go.mod go line", Minimum: "go1.26"}, "amd64", t.TempDir(), nil)
			if tc.wantErr != "" {
				var cm *ChecksumMismatchError
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.As(err, &cm) {
					t.Fatalf("err = %v, want %q\n%s", err, tc.wantErr, out)
				}
				if exists(filepath.Join(bc.Layers.Path, "go", "bin", "go")) {
					t.Fatal("refused toolchain was unpacked")
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			for _, w := range tc.wantLog {
				if !strings.Contains(out.String(), w) {
					t.Errorf("log lacks %q:\n%s", w, out)
				}
			}
			fi, err := os.Stat(filepath.Join(lay.Path, "bin", "go"))
			if err != nil || fi.Mode()&0o111 == 0 || v != "go1.26.2" {
				t.Fatalf("bin/go: %v %v, version %s", fi, err, v)
			}
		})
	}
}

// A database that signs a different tree than it proves, or a database that cannot be
// reached, stops the install.
func TestProxyToolchainDatabaseUnreachable(t *testing.T) {
	good := toolchainZip(t, "go1.26.2", "real go")
	p := startFakeProxy(t, map[string][]byte{"go1.26.2": good}, map[string][]byte{"go1.26.2": good})
	bc, out := buildContext(t, "GOPROXY="+p.URL, "GOSUMDB="+p.VerifierKey+" "+closedURL(t), "BP_GO_TOOLCHAIN_SOURCES=proxy")
	cfg, _ := ReadConfig(bc.Env, bc.PlatformDir)
	_, _, err := contributeToolchain(context.Background(), bc, cfg, Requirement{From: "BP_GO_VERSION", Exact: "go1.26.2"}, "amd64", t.TempDir(), nil)
	if err == nil || !strings.Contains(err.Error(), "look up golang.org/toolchain@v0.0.1-go1.26.2.linux-amd64 in checksum database sum.test") {
		t.Fatalf("err = %v\n%s", err, out)
	}
}

// With every source unreachable, a cached toolchain that meets the requirement is kept
// (offline rebuilds); an exact version already cached needs no source at all.
func TestToolchainOffline(t *testing.T) {
	good := toolchainZip(t, "go1.26.2", "real go")
	p := startFakeProxy(t, map[string][]byte{"go1.26.2": good}, map[string][]byte{"go1.26.2": good})
	bc, out := buildContext(t, "GOPROXY="+p.URL, "GOSUMDB="+p.VerifierKey, "BP_GO_DOWNLOAD_URL="+closedURL(t))
	cfg, _ := ReadConfig(bc.Env, bc.PlatformDir)
	if _, _, err := contributeToolchain(context.Background(), bc, cfg, Requirement{From: "default"}, "amd64", t.TempDir(), nil); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	cfg.GoEnv["GOPROXY"] = closedURL(t)
	out.Reset()
	if _, v, err := contributeToolchain(context.Background(), bc, cfg, Requirement{From: "go.mod go line", Minimum: "go1.26"}, "amd64", t.TempDir(), nil); err != nil || v != "go1.26.2" ||
		!strings.Contains(out.String(), "no Go toolchain source is reachable; keeping the cached Go 1.26.2") {
		t.Fatalf("offline minimum: %s, %v\n%s", v, err, out)
	}
	out.Reset()
	if _, _, err := contributeToolchain(context.Background(), bc, cfg, Requirement{From: "go.mod toolchain line", Exact: "go1.26.2"}, "amd64", t.TempDir(), nil); err != nil ||
		strings.Contains(out.String(), "unreachable") {
		t.Fatalf("exact cached version contacted a source: %v\n%s", err, out)
	}
	if _, _, err := contributeToolchain(context.Background(), bc, cfg, Requirement{From: "go.mod go line", Minimum: "go1.27"}, "amd64", t.TempDir(), nil); !errors.Is(err, errNoSource) {
		t.Fatalf("offline with a cached toolchain too old: %v", err)
	}
}

// The official source verifies the archive's SHA-256 from the download index before
// extracting it.
func TestOfficialToolchain(t *testing.T) {
	var tgz bytes.Buffer
	zw := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(zw)
	body := "#!/bin/sh\necho official\n"
	tw.WriteHeader(&tar.Header{Name: "go/bin/go", Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg})
	tw.Write([]byte(body))
	tw.Close()
	zw.Close()
	sum := sha256.Sum256(tgz.Bytes())
	for _, tc := range []struct {
		name, sha, wantErr string
	}{
		{"matching", hex.EncodeToString(sum[:]), ""},
		{"mismatch refused", strings.Repeat("ab", 32), "checksum mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mux := http.NewServeMux()
			mux.HandleFunc("/dl/", func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("mode") == "json" {
					json.NewEncoder(w).Encode([]map[string]any{{"version": "go1.26.3", "stable": true, "files": []map[string]any{
						{"filename": "go1.26.3.linux-amd64.tar.gz", "os": "linux", "arch": "amd64", "version": "go1.26.3", "sha256": tc.sha, "kind": "archive"},
						{"filename": "go1.26.3.src.tar.gz", "os": "", "arch": "", "version": "go1.26.3", "sha256": tc.sha, "kind": "source"},
					}}})
					return
				}
				w.Write(tgz.Bytes())
			})
			srv := httptest.NewServer(mux)
			defer srv.Close()
			bc, out := buildContext(t, "BP_GO_DOWNLOAD_URL="+srv.URL+"/dl/", "GOPROXY=off")
			cfg, _ := ReadConfig(bc.Env, bc.PlatformDir)
			lay, _, err := contributeToolchain(context.Background(), bc, cfg, Requirement{From: "default"}, "amd64", t.TempDir(), nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if !strings.Contains(out.String(), "Go 1.26.3 (newest stable") || !strings.Contains(out.String(), "from official downloads "+srv.URL+"/dl") {
				t.Errorf("log:\n%s", out)
			}
			if b, _ := os.ReadFile(filepath.Join(lay.Path, "bin", "go")); string(b) != body {
				t.Errorf("bin/go = %q", b)
			}
		})
	}
}

// The built-in key of sum.golang.org is a well-formed verifier key (a typo would make every
// default build fail its checksum lookups).
func TestSumGolangOrgKey(t *testing.T) {
	v, err := note.NewVerifier(sumGolangOrgKey)
	if err != nil || v.Name() != "sum.golang.org" {
		t.Fatalf("NewVerifier(%q) = %v, %v", sumGolangOrgKey, v, err)
	}
}

// A proxy that wants a login gets the one of a netrc binding, for the toolchain and the
// checksum database alike; without the binding it is unreachable (401). The credentials
// live in the temporary HOME only and are gone after remove.
func TestProxyToolchainNetrcBinding(t *testing.T) {
	good := toolchainZip(t, "go1.26.2", "real go")
	p := startFakeProxy(t, map[string][]byte{"go1.26.2": good}, map[string][]byte{"go1.26.2": good})
	auth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, pw, ok := r.BasicAuth(); !ok || u != "builder" || pw != "s3cret" {
			http.Error(w, "login required", http.StatusUnauthorized)
			return
		}
		r2, _ := http.NewRequest(r.Method, p.URL+r.URL.Path, nil)
		resp, err := http.DefaultClient.Do(r2)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	defer auth.Close()
	env := []string{"GOPROXY=" + auth.URL, "GOSUMDB=" + p.VerifierKey, "BP_GO_TOOLCHAIN_SOURCES=proxy"}

	bc, out := buildContext(t, env...)
	cfg, _ := ReadConfig(bc.Env, bc.PlatformDir)
	if _, _, err := contributeToolchain(context.Background(), bc, cfg, Requirement{From: "default"}, "amd64", t.TempDir(), nil); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("without credentials: %v\n%s", err, out)
	}

	bc, out = buildContext(t, env...)
	writeTestFile(t, bc.PlatformDir, "bindings/creds/type", "netrc\n")
	writeTestFile(t, bc.PlatformDir, "bindings/creds/.netrc", "machine other.example login x password y\nmachine 127.0.0.1 login builder password s3cret\n")
	home := filepath.Join(t.TempDir(), "home")
	creds, err := readCredentials(bc, home)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := contributeToolchain(context.Background(), bc, cfg, Requirement{From: "default"}, "amd64", t.TempDir(), creds); err != nil {
		t.Fatalf("with the netrc binding: %v\n%s", err, out)
	}
	if !strings.Contains(out.String(), "Private module credentials from binding creds (netrc)") || !strings.Contains(strings.Join(creds.env(), " "), "NETRC="+home+"/.netrc") {
		t.Errorf("log %s, env %v", out, creds.env())
	}
	creds.remove()
	if _, err := os.Stat(home); !os.IsNotExist(err) {
		t.Errorf("credentials left in %s", home)
	}
}
