package golang

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/mod/sumdb/dirhash"

	"github.com/slipway/slipway/internal/e2ekit"
)

// privateModule is the module private.example/greet v1.0.0 in the module proxy protocol's
// files (go.mod, zip, info, list), and its two go.sum lines.
func privateModule(t *testing.T) (files map[string][]byte, sum string) {
	t.Helper()
	const path, version = "private.example/greet", "v1.0.0"
	gomod := []byte("module " + path + "\n\ngo 1.26\n")
	src := []byte("// Package greet is a private module.\npackage greet\n\nfunc Hello() string { return \"hello from a private module\" }\n")
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	for name, body := range map[string][]byte{"go.mod": gomod, "greet.go": src} {
		w, err := zw.Create(path + "@" + version + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(body)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	zipFile := filepath.Join(t.TempDir(), "greet.zip")
	if err := os.WriteFile(zipFile, zbuf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	h1, err := dirhash.HashZip(zipFile, dirhash.Hash1)
	if err != nil {
		t.Fatal(err)
	}
	modH1, err := dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(gomod)), nil })
	if err != nil {
		t.Fatal(err)
	}
	base := "/" + path + "/@v/"
	files = map[string][]byte{
		base + "list":            []byte(version + "\n"),
		base + version + ".info": []byte(`{"Version":"` + version + `","Time":"2026-01-01T00:00:00Z"}`),
		base + version + ".mod":  gomod,
		base + version + ".zip":  zbuf.Bytes(),
		"/" + path + "/@latest":  []byte(`{"Version":"` + version + `","Time":"2026-01-01T00:00:00Z"}`),
	}
	sum = path + " " + version + " " + h1 + "\n" + path + " " + version + "/go.mod " + modH1 + "\n"
	return files, sum
}

// A module from a private proxy over HTTPS that wants a login: its TLS certificate comes
// from a test CA given with --ca-certificates, the login from a netrc service binding.
// The build downloads the module with the login; the image answers HTTP with it compiled
// in; the password is in no layer of the image and nowhere in the build's work and cache
// directories.
func TestGoPrivateModuleOverHTTPS(t *testing.T) {
	t.Parallel()
	e := e2ekit.NewEnv(t)
	builder := goBuilder(e)
	_, public := goProxy(t)
	caFile, cert := e2ekit.TestCA(t)
	const login, password = "slipway-ci", "pw-7f3c9b1e-private-proxy"
	files, sum := privateModule(t)
	var served, refused atomic.Int32
	private := e2ekit.StartTLS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/private.example/") {
			http.NotFound(w, r) // the public proxy after it in GOPROXY answers the rest
			return
		}
		if u, p, ok := r.BasicAuth(); !ok || u != login || p != password {
			refused.Add(1)
			w.Header().Set("WWW-Authenticate", `Basic realm="private modules"`)
			http.Error(w, "401 login required", http.StatusUnauthorized)
			return
		}
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		served.Add(1)
		w.Write(b)
	}), cert)

	app := t.TempDir()
	e2ekit.WriteFile(t, filepath.Join(app, "go.mod"), "module example.com/usesprivate\n\ngo 1.26\n\ntoolchain go"+goTestToolchain+"\n\nrequire private.example/greet v1.0.0\n")
	e2ekit.WriteFile(t, filepath.Join(app, "go.sum"), sum)
	e2ekit.WriteFile(t, filepath.Join(app, "main.go"), `package main

import (
	"fmt"
	"net/http"
	"os"

	"private.example/greet"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, greet.Hello()) })
	http.ListenAndServe(":"+os.Getenv("PORT"), nil)
}
`)
	creds := t.TempDir()
	e2ekit.WriteFile(t, filepath.Join(creds, "type"), "netrc\n")
	host := strings.TrimPrefix(private.URL, "https://")
	e2ekit.WriteFile(t, filepath.Join(creds, ".netrc"), "machine "+host+" login "+login+" password "+password+"\n"+
		"machine 127.0.0.1 login "+login+" password "+password+"\n")

	args := goBuildArgs(e, "goprivate", app, builder, private.URL+","+public, downServer(t), "GONOSUMDB=private.example")
	args = append(args, "--ca-certificates", caFile)
	// Without the login the private proxy refuses the module.
	out, code := e.Slipway(args...)
	if code == 0 {
		t.Fatalf("build without the netrc binding passed:\n%s", out)
	}
	goContains(t, "output without the binding", out, "private.example/greet", "401")

	out = e.MustSlipway(append(args, "--binding", "private-proxy="+creds)...)
	goContains(t, "build output", out, "Successfully built image goprivate")
	if served.Load() == 0 {
		t.Errorf("the private proxy served nothing with the login (refused %d requests)", refused.Load())
	}

	archive := filepath.Join(t.TempDir(), "goprivate.tar")
	e.MustSlipway("save", "goprivate", "-o", archive)
	goContains(t, "answer", httpGetIn(t, archive, "localhost/goprivate", "web"), "hello from a private module")

	// The password in no image layer, and nowhere in the build's workspace, layers and
	// build cache.
	// (".netrc" itself is only looked for as a file name: the run image's libraries mention it.)
	img := e2ekit.StoredImage(t, e.Store, "goprivate")
	if found := e2ekit.ImageHolds(t, img, password); found != "" {
		t.Errorf("the image holds %q", found)
	}
	e2ekit.WalkImage(t, img, func(h *tar.Header, _ io.Reader) {
		if strings.HasSuffix("/"+h.Name, "/.netrc") {
			t.Errorf("the image holds %s", h.Name)
		}
	})
	filepath.WalkDir(filepath.Join(e.Work, "slipway", "apps"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		if d.Name() == ".netrc" {
			t.Errorf("%s left in the work dir", p)
		}
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(password)) {
			t.Errorf("%s holds the password", p)
		}
		return nil
	})
	t.Logf("private proxy: %d requests served with the login, %d refused without it", served.Load(), refused.Load())
}
