package python

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway/slipway/buildpacks/sdk"
)

func TestStandaloneInstall(t *testing.T) {
	var tgz bytes.Buffer
	zw := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(zw)
	for _, e := range []struct{ name, body, link string }{
		{"python/bin/python3.11", "#!/bin/sh\n", ""}, {"python/bin/python", "", "python3.11"},
		{"python/lib/libexpat.so.1.8.10", "elf", ""}, {"python/lib/libexpat.so.1", "", "libexpat.so.1.8.10"},
	} {
		h := &tar.Header{Name: e.name, Mode: 0o755, Size: int64(len(e.body)), Typeflag: tar.TypeReg}
		if e.link != "" {
			h = &tar.Header{Name: e.name, Mode: 0o777, Typeflag: tar.TypeSymlink, Linkname: e.link}
		}
		tw.WriteHeader(h)
		tw.Write([]byte(e.body))
	}
	tw.Close()
	zw.Close()
	sum := sha256.Sum256(tgz.Bytes())
	file := "cpython-3.11.2+r1-x86_64-unknown-linux-gnu-install_only.tar.gz"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "SHA256SUMS") {
			fmt.Fprintf(w, "%s  %s\n", hex.EncodeToString(sum[:]), file)
			return
		}
		w.Write(tgz.Bytes())
	}))
	defer srv.Close()
	s := &standaloneSource{mirror: srv.URL, release: "r1", triple: "x86_64-unknown-linux-gnu", fetcher: &sdk.Fetcher{}, tmp: t.TempDir()}
	vs, err := s.Versions(t.Context())
	if err != nil || len(vs) != 1 || vs[0].String() != "3.11.2" {
		t.Fatalf("versions %v %v", vs, err)
	}
	lay, _ := sdk.Layers{Path: t.TempDir()}.Get("cpython")
	py, reused, err := s.Install(t.Context(), vs[0], lay)
	if err != nil || reused || py != filepath.Join(lay.Path, "bin", "python3.11") {
		t.Fatalf("install %s %v %v", py, reused, err)
	}
	for f, want := range map[string]string{"env/PATH.prepend": filepath.Join(lay.Path, "bin"), "env/LD_LIBRARY_PATH.prepend": filepath.Join(lay.Path, "lib")} {
		if b, err := os.ReadFile(filepath.Join(lay.Path, f)); err != nil || string(b) != want {
			t.Errorf("%s = %q %v", f, b, err)
		}
	}
}
