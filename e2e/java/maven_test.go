package java

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipway/slipway/internal/e2ekit"
	"github.com/slipway/slipway/internal/mavenrepo"
)

const lang3 = mavenrepo.Lang3

const lang3Greeting = `package hello;

import org.apache.commons.lang3.StringUtils;

public class Greeting {
    public static String text() { return StringUtils.capitalize("%s"); }
}
`

func mavenApp(t *testing.T, greeting string) string {
	t.Helper()
	app := filepath.Join(t.TempDir(), "app")
	e2ekit.WriteFile(t, filepath.Join(app, "pom.xml"), mavenrepo.POM(lang3))
	e2ekit.WriteFile(t, filepath.Join(app, "src/main/java/hello/Main.java"), mainJava)
	e2ekit.WriteFile(t, filepath.Join(app, "src/main/java/hello/Greeting.java"), fmt.Sprintf(lang3Greeting, greeting))
	return app
}

func mavenBinding(t *testing.T, url string) string {
	t.Helper()
	b := filepath.Join(t.TempDir(), "maven-settings")
	e2ekit.WriteFile(t, filepath.Join(b, "type"), "maven")
	e2ekit.WriteFile(t, filepath.Join(b, "settings.xml"), mavenrepo.SettingsAt(url))
	return b
}

// A Maven project built from source with Maven from Debian packages against the test
// repository (a settings.xml binding) served over HTTPS by a private CA given with
// --ca-certificates, which Maven trusts through the truststore the buildpack writes: the
// shaded jar answers HTTP; a source edit rebuilds from the cached JDK, Maven and ~/.m2
// layers without asking the repository for anything, and the settings.xml is not in the
// image. Then, on the warm cache: the failures (compile error, missing dependency, the
// repository's CA not given), and the Maven Wrapper (mavenWrapper).
func TestJavaMaven(t *testing.T) {
	e := e2ekit.DefaultStackEnv(t)
	repo := mavenrepo.Start(t, mavenrepo.PluginPackages...)
	caFile, cert := e2ekit.TestCA(t)
	tlsRepo := e2ekit.StartTLS(t, repo.Handler(), cert)
	app := mavenApp(t, "hello from maven")
	noCA := buildArgs("java-maven", app, javaBuilder(t), "--binding", "maven-settings="+mavenBinding(t, tlsRepo.URL))
	args := append(append([]string(nil), noCA...), "--ca-certificates", caFile)

	start := time.Now()
	out := e.MustSlipway(args...)
	t.Logf("cold build: %s (%d repository requests)", time.Since(start).Round(time.Millisecond), repo.Requests())
	e2ekit.MustContain(t, out, "App: Maven project", `asked for: 17 (from pom.xml maven.compiler.release "17")`, "Installed JDK 17 in layer jdk",
		"Installed Maven from Debian packages in layer maven", "Maven settings from binding maven-settings",
		"Running mvn --batch-mode", "package -DskipTests", "BUILD SUCCESS", "Executable jar target/hello-1.0.jar (Main-Class hello.Main)",
		"Process web: java -jar /workspace/hello-1.0.jar")
	archive := filepath.Join(t.TempDir(), "java-maven.tar")
	e.MustSlipway("save", "java-maven", "-o", archive)
	c := e2ekit.PodmanServe(t, archive, "localhost/java-maven")
	e2ekit.MustContain(t, c.Get(), "Hello from maven on Java 17.", "-Xmx")
	ls := e2ekit.PodmanLaunch(t, archive, "localhost/java-maven", "sh", "-c", "ls /workspace; grep -rl test-repo /workspace /layers 2>/dev/null | head -3; echo end")
	if strings.Contains(ls, "pom.xml") || strings.Contains(ls, "src") || strings.Contains(ls, "settings") {
		t.Errorf("the image holds the sources or the settings:\n%s", ls)
	}

	e2ekit.WriteFile(t, filepath.Join(app, "src/main/java/hello/Greeting.java"), fmt.Sprintf(lang3Greeting, "edited maven"))
	before := repo.Requests()
	start = time.Now()
	out = e.MustSlipway(args...)
	t.Logf("rebuild after a source edit: %s", time.Since(start).Round(time.Millisecond))
	e2ekit.MustContain(t, out, "Reusing JDK 17 in layer jdk", "Reusing Maven from Debian packages", "Reusing JRE 17 in layer jre", "BUILD SUCCESS")
	if n := repo.Requests() - before; n != 0 {
		t.Errorf("the rebuild made %d requests to the Maven repository: ~/.m2 was not reused", n)
	}
	e.MustSlipway("save", "java-maven", "-o", archive)
	c = e2ekit.PodmanServe(t, archive, "localhost/java-maven")
	e2ekit.MustContain(t, c.Get(), "Edited maven on Java 17.")

	// Failures, on the warm cache: Maven's output tail and exit code for a compile
	// error; Maven's message with the repository URL for a missing dependency.
	e2ekit.WriteFile(t, filepath.Join(app, "src/main/java/hello/Greeting.java"), "package hello;\npublic class Greeting { nope }\n")
	out, code := e.Slipway(args...)
	if code == 0 {
		t.Fatalf("a compile error built:\n%s", out)
	}
	e2ekit.MustContain(t, out, "Maven failed with exit code 1: mvn --batch-mode", "last lines of its output:", "COMPILATION ERROR", "Greeting.java")
	e2ekit.WriteFile(t, filepath.Join(app, "src/main/java/hello/Greeting.java"), fmt.Sprintf(lang3Greeting, "x"))
	e2ekit.WriteFile(t, filepath.Join(app, "pom.xml"), mavenrepo.POM(lang3+`<dependency><groupId>com.acme</groupId><artifactId>missing</artifactId><version>1.0</version></dependency>`))
	out, code = e.Slipway(args...)
	if code == 0 {
		t.Fatalf("a missing dependency built:\n%s", out)
	}
	e2ekit.MustContain(t, out, "Maven failed with exit code 1", "com.acme:missing:jar:1.0", tlsRepo.URL)
	// Without the CA the truststore does not trust the repository.
	out, code = e.Slipway(noCA...)
	if code == 0 {
		t.Fatalf("a build reached an untrusted repository:\n%s", out)
	}
	e2ekit.MustContain(t, out, "Maven failed with exit code 1", "PKIX path building failed", tlsRepo.URL,
		"The JVM does not trust a server's TLS certificate", "--ca-certificates FILE")

	e2ekit.WriteFile(t, filepath.Join(app, "pom.xml"), mavenrepo.POM(lang3))
	mavenWrapper(t, e, app, args, repo, cert)
}
