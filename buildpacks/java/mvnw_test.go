package java

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/slipway/slipway/buildpacks/sdk"
)

func TestReadMavenWrapper(t *testing.T) {
	cases := []struct {
		name, props string
		env         sdk.Environ
		want        mavenWrapper
		err         string
	}{
		{"escaped colon, comments", "# Licensed\n!x\ndistributionUrl=https\\://repo.example/maven2/org/apache/maven/apache-maven/3.9.9/apache-maven-3.9.9-bin.zip\nwrapperVersion = 3.3.2\n",
			nil, mavenWrapper{URL: "https://repo.example/maven2/org/apache/maven/apache-maven/3.9.9/apache-maven-3.9.9-bin.zip"}, ""},
		{"checksum, colon separator, continuation", "distributionUrl: http://h/a/\\\n  b.zip\ndistributionSha256Sum=" + strings.Repeat("AB", 32) + "\n",
			nil, mavenWrapper{URL: "http://h/a/b.zip", SHA256: strings.Repeat("ab", 32)}, ""},
		{"MVNW_REPOURL", "distributionUrl=https://repo.maven.apache.org/maven2/org/apache/maven/apache-maven/3.9.9/x.zip\n",
			sdk.Environ{"MVNW_REPOURL": "http://mirror/m2/"}, mavenWrapper{URL: "http://mirror/m2/org/apache/maven/apache-maven/3.9.9/x.zip"}, ""},
		{"no URL", "wrapperVersion=3.3.2\n", nil, mavenWrapper{}, "has no distributionUrl"},
		{"bad checksum", "distributionUrl=http://h/x.zip\ndistributionSha256Sum=123\n", nil, mavenWrapper{}, "distributionSha256Sum: parse SHA-256"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, map[string]string{wrapperProperties: tc.props})
			w, err := readMavenWrapper(dir, tc.env)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || *w != tc.want {
				t.Fatalf("got %+v, %v; want %+v", w, err, tc.want)
			}
		})
	}
	if w, err := readMavenWrapper(t.TempDir(), nil); w != nil || err != nil {
		t.Errorf("no properties file: %v, %v", w, err)
	}
}

// mavenZip is a distribution zip: apache-maven-x/bin/mvn (executable), a conf file, a link.
func mavenZip(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	add := func(name string, mode os.FileMode, body string) {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	add("apache-maven-x/", os.ModeDir|0o755, "")
	add("apache-maven-x/bin/mvn", 0o755, "#!/bin/sh\necho maven\n")
	add("apache-maven-x/conf/settings.xml", 0o644, "<settings/>")
	add("apache-maven-x/lib/current.jar", os.ModeSymlink|0o777, "../conf/settings.xml")
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// The wrapper's distribution is downloaded (with MVNW_USERNAME's credentials), checked
// against distributionSha256Sum, extracted with its modes and reused on the next build;
// a wrong checksum fails naming the properties file and extracts nothing.
func TestWrapperMaven(t *testing.T) {
	data := mavenZip(t)
	var requests, authed atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if u, p, ok := r.BasicAuth(); ok && u == "me" && p == "secret" {
			authed.Add(1)
		}
		w.Write(data)
	}))
	defer srv.Close()
	sum := sha256.Sum256(data)
	layers := sdk.Layers{Path: t.TempDir()}
	bc := sdk.BuildContext{Layers: layers, Env: sdk.Environ{"MVNW_USERNAME": "me", "MVNW_PASSWORD": "secret"}, Log: sdk.NewLogger(&bytes.Buffer{})}
	tl := &tool{bc: bc, http: srv.Client()}
	w := &mavenWrapper{URL: srv.URL + "/apache-maven-x-bin.zip", SHA256: hex.EncodeToString(sum[:])}

	mvn, reused, err := tl.wrapperMaven(context.Background(), w)
	if err != nil || reused {
		t.Fatalf("wrapperMaven = %s, %v, %v", mvn, reused, err)
	}
	if fi, err := os.Stat(mvn); err != nil || fi.Mode().Perm()&0o100 == 0 {
		t.Errorf("bin/mvn: %v, %v; want an executable file", fi, err)
	}
	if b, err := os.ReadFile(filepath.Join(filepath.Dir(mvn), "..", "lib", "current.jar")); err != nil || string(b) != "<settings/>" {
		t.Errorf("the link: %q, %v", b, err)
	}
	if authed.Load() != 1 {
		t.Errorf("%d authenticated requests, want 1", authed.Load())
	}
	if _, reused, err := tl.wrapperMaven(context.Background(), w); err != nil || !reused || requests.Load() != 1 {
		t.Errorf("second run: reused=%v err=%v requests=%d; want the layer reused without a download", reused, err, requests.Load())
	}

	bad := *w
	bad.SHA256 = strings.Repeat("0", 64)
	_, _, err = (&tool{bc: sdk.BuildContext{Layers: sdk.Layers{Path: t.TempDir()}, Log: bc.Log}, http: srv.Client()}).wrapperMaven(context.Background(), &bad)
	if err == nil || !strings.Contains(err.Error(), "does not match distributionSha256Sum in .mvn/wrapper/maven-wrapper.properties") ||
		!strings.Contains(err.Error(), "got sha256:"+hex.EncodeToString(sum[:])) {
		t.Errorf("err %v, want the checksum mismatch naming the properties file", err)
	}
}

func TestExtractZipRefusesEscapes(t *testing.T) {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	h := &zip.FileHeader{Name: "top/evil"}
	h.SetMode(os.ModeSymlink | 0o777)
	w, _ := zw.CreateHeader(h)
	w.Write([]byte("../../etc/passwd"))
	zw.Close()
	file := filepath.Join(t.TempDir(), "x.zip")
	os.WriteFile(file, b.Bytes(), 0o644)
	if err := extractZip(file, t.TempDir()); err == nil || !strings.Contains(err.Error(), "a link out of the distribution") {
		t.Errorf("err %v, want the link refused", err)
	}
}

func TestHintForUntrustedCertificate(t *testing.T) {
	tail := "[ERROR] Failed to execute goal on project hello: Could not transfer artifact x from/to test-repo (https://127.0.0.1:4443): " +
		"PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target"
	e := &BuildToolError{Tool: "Maven", Command: []string{"mvn"}, Code: 1, Tail: tail, Hint: hint(tail)}
	if !strings.Contains(e.Error(), "--ca-certificates FILE") {
		t.Errorf("no hint in %q", e.Error())
	}
	if hint("[ERROR] COMPILATION ERROR") != "" {
		t.Error("a compile error got the TLS hint")
	}
}
