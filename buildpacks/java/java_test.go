package java

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
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway/slipway/buildpacks/sdk"
)

func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAppKind(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		want  string
		why   string
	}{
		{"maven", map[string]string{"pom.xml": "<project/>"}, KindMaven, ""},
		{"maven wrapper", map[string]string{"mvnw": "#!/bin/sh"}, KindMaven, ""},
		{"gradle kts", map[string]string{"build.gradle.kts": ""}, KindGradle, ""},
		{"gradle wrapper", map[string]string{"gradlew": ""}, KindGradle, ""},
		{"jar", map[string]string{"app.jar": "PK"}, KindJar, ""},
		{"war", map[string]string{"app.war": "PK"}, KindWar, ""},
		{"exploded", map[string]string{"META-INF/MANIFEST.MF": "Manifest-Version: 1.0\nMain-Class: a.B\n"}, KindExploded, ""},
		{"manifest without Main-Class", map[string]string{"META-INF/MANIFEST.MF": "Manifest-Version: 1.0\n"}, "", "has no Main-Class"},
		{"dist-zip", map[string]string{"bin/app": "#!/bin/sh", "bin/app.bat": "", "lib/app.jar": "PK"}, KindDistZip, ""},
		{"java sources alone", map[string]string{"Main.java": "class Main {}"}, "", "*.java sources alone are not enough"},
		{"empty", nil, "", "no pom.xml, mvnw"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, tc.files)
			got, why := appKind(dir)
			if got != tc.want || !strings.Contains(why, tc.why) {
				t.Errorf("appKind = %q, %q; want %q, …%q…", got, why, tc.want, tc.why)
			}
		})
	}
}

func TestManifestContinuationLines(t *testing.T) {
	m, err := parseManifest(strings.NewReader("Manifest-Version: 1.0\r\nClass-Path: lib/a.jar lib/b\r\n .jar\r\nMain-Class: x.Y\r\n\r\nName: other\r\nMain-Class: no\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Get("Class-Path") != "lib/a.jar lib/b.jar" || m.Get("Main-Class") != "x.Y" {
		t.Errorf("manifest %v", m)
	}
}

func TestRequirement(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		files   map[string]string
		mf      Manifest
		offered []int
		want    int
		source  string
		err     string
	}{
		{"default newest LTS", nil, nil, nil, []int{11, 17, 19}, 17, "", ""},
		{"BP_JVM_VERSION wins", map[string]string{"BP_JVM_VERSION": "21"}, map[string]string{".java-version": "17"}, nil, []int{17, 21}, 21, "BP_JVM_VERSION", ""},
		{".java-version", nil, map[string]string{".java-version": "17.0.9\n"}, nil, []int{17, 21}, 17, ".java-version", ""},
		{".sdkmanrc", nil, map[string]string{".sdkmanrc": "# sdk\njava=17.0.9-tem\n"}, nil, []int{17, 21}, 17, ".sdkmanrc", ""},
		{"pom release, newer accepted", nil, map[string]string{"pom.xml": "<project><properties><maven.compiler.release>11</maven.compiler.release></properties></project>"}, nil, []int{17}, 17, "pom.xml maven.compiler.release", ""},
		{"pom source 1.8", nil, map[string]string{"pom.xml": "<project><properties><maven.compiler.source>1.8</maven.compiler.source></properties></project>"}, nil, []int{8, 17}, 8, "pom.xml maven.compiler.source", ""},
		{"manifest hint never above what is offered", nil, nil, Manifest{"Build-Jdk-Spec": "21"}, []int{17}, 17, "the manifest's Build-Jdk-Spec", ""},
		{"exact version missing", map[string]string{"BP_JVM_VERSION": "21"}, nil, nil, []int{17}, 0, "BP_JVM_VERSION", ""},
		{"bad version", map[string]string{"BP_JVM_VERSION": "latest"}, nil, nil, nil, 0, "", `"latest" is not a Java version`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, tc.files)
			r, err := requirement(sdk.Environ(tc.env), "", dir, tc.mf)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Source != tc.source {
				t.Errorf("source %q, want %q", r.Source, tc.source)
			}
			got, _ := r.choose(tc.offered)
			if got != tc.want {
				t.Errorf("chose %d from %v for %s, want %d", got, tc.offered, r, tc.want)
			}
		})
	}
}

type fakeSource struct {
	name    string
	offered []int
	err     error
}

func (f fakeSource) Name() string                           { return f.name }
func (f fakeSource) Offered(context.Context) ([]int, error) { return f.offered, f.err }
func (f fakeSource) Install(context.Context, *sdk.Layer, int, bool, sdk.LayerTypes) (string, bool, error) {
	return "", false, nil
}

func TestPickJVMNamesEverySource(t *testing.T) {
	_, _, err := pickJVM(context.Background(), []jvmSource{fakeSource{name: "debian", offered: []int{17}}, fakeSource{name: "adoptium", err: errors.New("connection refused")}},
		Requirement{Major: 21, Source: "BP_JVM_VERSION", Text: "21"})
	var ve *VersionError
	if !errors.As(err, &ve) {
		t.Fatalf("err %v, want a VersionError", err)
	}
	for _, want := range []string{`no JVM 21 (from BP_JVM_VERSION "21")`, "debian offers 17", "adoptium could not be asked (connection refused)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	src, n, err := pickJVM(context.Background(), []jvmSource{fakeSource{name: "debian", offered: []int{17}}, fakeSource{name: "adoptium", offered: []int{17, 21}}}, Requirement{Major: 21})
	if err != nil || src.Name() != "adoptium" || n != 21 {
		t.Errorf("pickJVM = %v, %d, %v; want adoptium 21", src, n, err)
	}
}

func TestLayersIndex(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{"layers.idx": "- \"dependencies\":\n  - \"BOOT-INF/lib/\"\n- \"spring-boot-loader\":\n  - \"org/\"\n- \"snapshot-dependencies\":\n- \"application\":\n  - \"BOOT-INF/classes/\"\n  - \"BOOT-INF/lib/x[1].jar\"\n"})
	ls, err := readLayersIndex(filepath.Join(dir, "layers.idx"))
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(ls)
	want := `[{dependencies [BOOT-INF/lib]} {spring-boot-loader [org]} {application [BOOT-INF/classes BOOT-INF/lib/x\[1].jar]}]`
	if got != want {
		t.Errorf("layers %s, want %s", got, want)
	}
}

func TestCalculate(t *testing.T) {
	cases := []struct {
		name string
		in   memInput
		want []string
		err  []string
	}{
		{"512M", memInput{Limit: 512 << 20, Threads: 250, Classes: 8500},
			[]string{"-Xmx127M", "-Xss1M", "-XX:MaxMetaspaceSize=61M", "-XX:ReservedCodeCacheSize=64M", "-XX:MaxDirectMemorySize=10M"}, nil},
		{"2G with head room", memInput{Limit: 2 << 30, HeadRoom: 10, Threads: 100, Classes: 8500},
			[]string{"-Xmx1432M", "-Xss1M", "-XX:MaxMetaspaceSize=61M", "-XX:ReservedCodeCacheSize=240M", "-XX:MaxDirectMemorySize=10M"}, nil},
		{"user settings kept", memInput{Limit: 512 << 20, Threads: 250, Classes: 8500, User: []string{"-Xss512k", "-XX:MaxDirectMemorySize=1M"}},
			[]string{"-Xmx261M", "-XX:MaxMetaspaceSize=61M", "-XX:ReservedCodeCacheSize=64M"}, nil},
		{"user heap", memInput{Limit: 512 << 20, Threads: 250, Classes: 8500, User: []string{"-Xmx100m"}},
			[]string{"-Xss1M", "-XX:MaxMetaspaceSize=61M", "-XX:ReservedCodeCacheSize=64M", "-XX:MaxDirectMemorySize=10M"}, nil},
		{"64M too small", memInput{Limit: 64 << 20, LimitFrom: "cgroup v2 memory.max", Threads: 250, Classes: 8500}, nil,
			[]string{"memory limit 64M (cgroup v2 memory.max) is too small", "needs 385M outside the heap", "250 threads × 1M stack = 250M", "leaving nothing for the heap", "metaspace 61M for 8500 classes"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := calculate(tc.in)
			if tc.err != nil {
				if err == nil {
					t.Fatalf("no error; flags %v", r.Flags)
				}
				for _, w := range tc.err {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%q lacks %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(r.Flags, " "); got != strings.Join(tc.want, " ") {
				t.Errorf("flags %q, want %q", got, strings.Join(tc.want, " "))
			}
		})
	}
}

func TestMemoryLimit(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		want  int64
		from  string
	}{
		{"v2", map[string]string{"sys/fs/cgroup/memory.max": "536870912\n"}, 512 << 20, "cgroup v2"},
		{"v2 unlimited, v1 limit", map[string]string{"sys/fs/cgroup/memory.max": "max\n", "sys/fs/cgroup/memory/memory.limit_in_bytes": "268435456\n"}, 256 << 20, "cgroup v1"},
		{"v1 unlimited", map[string]string{"sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n", "proc/meminfo": "MemTotal:       1024 kB\n"}, 1 << 20, "machine"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			write(t, root, tc.files)
			n, from := memoryLimit(root)
			if n != tc.want || !strings.Contains(from, tc.from) {
				t.Errorf("memoryLimit = %d (%s), want %d (%s)", n, from, tc.want, tc.from)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"512m": 512 << 20, "1G": 1 << 30, "1024": 1024, "64k": 64 << 10} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := parseSize("lots"); err == nil {
		t.Error("parseSize(lots) succeeded")
	}
}

// fakeAdoptium serves the Adoptium API v3 shape on 127.0.0.1: available releases 17 and
// 21, and a 21 JRE tarball whose listed checksum is right unless badSum.
func fakeAdoptium(t *testing.T, badSum bool) *httptest.Server {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	script := "#!/bin/sh\necho fake java\n"
	tw.WriteHeader(&tar.Header{Name: "jdk-21.0.1+12-jre/bin/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "jdk-21.0.1+12-jre/bin/java", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(script))})
	tw.Write([]byte(script))
	tw.Close()
	zw.Close()
	tarball := buf.Bytes()
	sum := sha256.Sum256(tarball)
	checksum := hex.EncodeToString(sum[:])
	if badSum {
		checksum = strings.Repeat("0", 64)
	}
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v3/info/available_releases":
			fmt.Fprint(w, `{"available_releases":[17,21],"most_recent_lts":21}`)
		case r.URL.Path == "/v3/assets/feature_releases/21/ga" && r.URL.Query().Get("image_type") == "jre" && r.URL.Query().Get("os") == "linux":
			fmt.Fprintf(w, `[{"release_name":"jdk-21.0.1+12","binaries":[{"image_type":"jre","package":{"name":"OpenJDK21U-jre.tar.gz","link":"%s/dl/jre.tar.gz","checksum":"%s"}}]}]`, srv.URL, checksum)
		case r.URL.Path == "/dl/jre.tar.gz":
			w.Write(tarball)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestAdoptiumInstallsVerifiedJRE(t *testing.T) {
	srv := fakeAdoptium(t, false)
	a := newAdoptium(srv.URL, srv.Client())
	offered, err := a.Offered(context.Background())
	if err != nil || fmt.Sprint(offered) != "[17 21]" {
		t.Fatalf("Offered = %v, %v", offered, err)
	}
	layers := sdk.Layers{Path: t.TempDir()}
	lay, _ := layers.Get("jre")
	home, reused, err := a.Install(context.Background(), lay, 21, false, sdk.LayerTypes{Launch: true})
	if err != nil || reused {
		t.Fatalf("Install = %s, %v, %v", home, reused, err)
	}
	if _, err := os.Stat(filepath.Join(home, "bin", "java")); err != nil {
		t.Fatal(err)
	}
	lay2, _ := layers.Get("jre")
	if _, reused, err := a.Install(context.Background(), lay2, 21, false, sdk.LayerTypes{Launch: true}); err != nil || !reused {
		t.Errorf("second Install reused=%v err=%v, want reuse", reused, err)
	}
}

func TestAdoptiumRefusesChecksumMismatch(t *testing.T) {
	srv := fakeAdoptium(t, true)
	a := newAdoptium(srv.URL, srv.Client())
	lay, _ := sdk.Layers{Path: t.TempDir()}.Get("jre")
	_, _, err := a.Install(context.Background(), lay, 21, false, sdk.LayerTypes{Launch: true})
	var ce *sdk.ChecksumError
	if !errors.As(err, &ce) {
		t.Fatalf("err %v, want a checksum mismatch", err)
	}
	if exists(filepath.Join(lay.Path, "java", "bin", "java")) {
		t.Error("the unverified tarball was extracted")
	}
}

func TestFindArtifact(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{"target/app-1.0.jar": "", "target/original-app-1.0.jar": "", "target/app-1.0-sources.jar": ""})
	got, err := findArtifact(dir, "", "target/*.[ejw]ar", "M", "A")
	if err != nil || filepath.Base(got) != "app-1.0.jar" {
		t.Errorf("findArtifact = %s, %v", got, err)
	}
	write(t, dir, map[string]string{"target/other.jar": ""})
	if _, err := findArtifact(dir, "", "target/*.[ejw]ar", "M", "A"); err == nil || !strings.Contains(err.Error(), "2 artifacts") {
		t.Errorf("err %v, want 2 artifacts", err)
	}
}

// The truststore is a JKS file the JDK's keytool reads with the JDK's default password.
func TestTruststoreReadByKeytool(t *testing.T) {
	keytool, err := exec.LookPath("keytool")
	if err != nil {
		t.Skip("no keytool on this machine")
	}
	root := t.TempDir()
	bundle, err := os.ReadFile(systemBundle)
	if err != nil {
		t.Skip("no system CA bundle")
	}
	write(t, root, map[string]string{strings.TrimPrefix(systemBundle, "/"): string(bundle)})
	bindings := t.TempDir()
	write(t, bindings, map[string]string{"corp/type": "ca-certificates", "corp/corp.pem": string(bundle[:strings.Index(string(bundle), "-----END CERTIFICATE-----")+26])})
	certs, names, err := trustedCerts(sdk.Environ{"SERVICE_BINDING_ROOT": bindings}, "", root)
	if err != nil || len(certs) < 10 || fmt.Sprint(names) != "[corp]" {
		t.Fatalf("trustedCerts: %d certs, bindings %v, %v", len(certs), names, err)
	}
	file := filepath.Join(t.TempDir(), "cacerts")
	if err := writeJKS(file, certs); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(keytool, "-list", "-keystore", file, "-storepass", "changeit").CombinedOutput()
	if err != nil {
		t.Fatalf("keytool: %v\n%s", err, out)
	}
	if want := fmt.Sprintf("Your keystore contains %d entries", len(certs)); !strings.Contains(string(out), want) {
		t.Errorf("keytool -list lacks %q:\n%.500s", want, out)
	}
}
