package java

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slipway/slipway/internal/e2ekit"
	"github.com/slipway/slipway/internal/mavenrepo"
)

// mavenWrapper builds the Maven app of TestJavaMaven (its cache warm) through the Maven
// Wrapper: .mvn/wrapper/maven-wrapper.properties names a Maven distribution zip (made
// from Debian's maven package) on an HTTPS server of the test CA. A wrong
// distributionSha256Sum fails naming the file and both sums; the right one installs that
// Maven into the maven layer and builds with it, without running the mvnw script (which
// here only fails) and without a request to the Maven repository (~/.m2 is reused).
func mavenWrapper(t *testing.T, e *e2ekit.Env, app string, args []string, repo *mavenrepo.Repo, cert tls.Certificate) {
	dists := t.TempDir()
	zipName := mavenrepo.MavenDistribution(t, dists)
	f, err := os.Open(filepath.Join(dists, zipName))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	io.Copy(h, f)
	f.Close()
	sum := hex.EncodeToString(h.Sum(nil))
	var downloads atomic.Int64
	dir := "/org/apache/maven/apache-maven/" + mavenrepo.MavenVersion
	files := http.StripPrefix(dir, http.FileServer(http.Dir(dists)))
	srv := e2ekit.StartTLS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		downloads.Add(1)
		files.ServeHTTP(w, r)
	}), cert)
	distURL := srv.URL + dir + "/" + zipName

	e2ekit.WriteFile(t, filepath.Join(app, "mvnw"), "#!/bin/sh\necho 'the mvnw script ran' >&2\nexit 3\n")
	props := func(sha string) {
		e2ekit.WriteFile(t, filepath.Join(app, ".mvn/wrapper/maven-wrapper.properties"),
			"# written by the test\nwrapperVersion=3.3.2\ndistributionType=only-script\ndistributionUrl="+strings.ReplaceAll(distURL, ":", `\:`)+
				"\ndistributionSha256Sum="+sha+"\n")
	}
	wrong := strings.Repeat("0", 64)
	props(wrong)
	out, code := e.Slipway(args...)
	if code == 0 {
		t.Fatalf("a distribution with the wrong checksum was used:\n%s", out)
	}
	e2ekit.MustContain(t, out, "the Maven distribution "+distURL+" does not match distributionSha256Sum in .mvn/wrapper/maven-wrapper.properties",
		"expected sha256:"+wrong, "got sha256:"+sum)

	props(sum)
	before := repo.Requests()
	start := time.Now()
	out = e.MustSlipway(args...)
	t.Logf("build with ./mvnw's distribution: %s", time.Since(start).Round(time.Millisecond))
	e2ekit.MustContain(t, out, "Reusing JDK 17 in layer jdk", "Installed Maven from the wrapper's distributionUrl "+distURL+" in layer maven",
		"Running mvn --batch-mode", "BUILD SUCCESS", "Process web: java -jar /workspace/hello-1.0.jar")
	if strings.Contains(out, "the mvnw script ran") {
		t.Errorf("the mvnw script ran:\n%s", out)
	}
	if n := repo.Requests() - before; n != 0 {
		t.Errorf("the wrapper build made %d requests to the Maven repository: ~/.m2 was not reused", n)
	}
	if n := downloads.Load(); n != 2 {
		t.Errorf("%d distribution downloads, want 2 (the refused one and the verified one)", n)
	}
}
