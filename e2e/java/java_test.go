package java

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipway/slipway/internal/e2ekit"
)

// mainJava is the app: an HTTP server on $PORT (com.sun.net.httpserver, in every JDK)
// that shows the greeting, the JVM's version and max heap, the JAVA_TOOL_OPTIONS the
// memory calculator set, and SERVER_PORT.
const mainJava = `package hello;

import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

public class Main {
    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(System.getenv().getOrDefault("PORT", "8080"));
        HttpServer s = HttpServer.create(new InetSocketAddress(port), 0);
        s.createContext("/", ex -> {
            String body = Greeting.text() + " on Java " + System.getProperty("java.version")
                + " maxHeap=" + (Runtime.getRuntime().maxMemory() >> 20) + "M"
                + " opts=" + System.getenv("JAVA_TOOL_OPTIONS")
                + " server.port=" + System.getenv("SERVER_PORT") + "\n";
            byte[] b = body.getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(200, b.length);
            ex.getResponseBody().write(b);
            ex.close();
        });
        s.start();
        System.out.println("listening on " + port);
    }
}
`

const greetingJava = `package hello;

public class Greeting {
    public static String text() { return "%s"; }
}
`

// loaderJava stands in for Spring Boot's JarLauncher in an exploded jar: it runs the
// manifest's Start-Class from BOOT-INF/classes and BOOT-INF/lib/*.jar.
const loaderJava = `package org.example.loader;

import java.io.File;
import java.io.FileInputStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.ArrayList;
import java.util.List;
import java.util.jar.Manifest;

public class Loader {
    public static void main(String[] args) throws Exception {
        File root = new File(Loader.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        Manifest m = new Manifest(new FileInputStream(new File(root, "META-INF/MANIFEST.MF")));
        List<URL> urls = new ArrayList<>();
        urls.add(new File(root, "BOOT-INF/classes/").toURI().toURL());
        File[] libs = new File(root, "BOOT-INF/lib").listFiles();
        if (libs != null) for (File f : libs) urls.add(f.toURI().toURL());
        ClassLoader cl = new URLClassLoader(urls.toArray(new URL[0]), Loader.class.getClassLoader());
        Class.forName(m.getMainAttributes().getValue("Start-Class"), true, cl)
            .getMethod("main", String[].class).invoke(null, (Object) args);
    }
}
`

const layersIdx = `- "dependencies":
  - "BOOT-INF/lib/"
- "spring-boot-loader":
  - "org/"
- "snapshot-dependencies":
- "application":
  - "BOOT-INF/classes/"
  - "BOOT-INF/layers.idx"
  - "META-INF/"
`

// javac compiles sources (name → text) into dir with the host's JDK.
func javac(t *testing.T, dir string, classpath string, sources map[string]string) {
	t.Helper()
	if _, err := exec.LookPath("javac"); err != nil {
		t.Fatal("the test compiles its fixture apps with the host's javac: run scripts/setup-debian.sh (it installs openjdk-17-jdk-headless)")
	}
	src := t.TempDir()
	args := []string{"--release", "17", "-d", dir}
	if classpath != "" {
		args = append(args, "-cp", classpath)
	}
	for name, text := range sources {
		p := filepath.Join(src, name)
		e2ekit.WriteFile(t, p, text)
		args = append(args, p)
	}
	if out, err := exec.Command("javac", args...).CombinedOutput(); err != nil {
		t.Fatalf("javac: %v\n%s", err, out)
	}
}

func jar(t *testing.T, file, dir string, extra ...string) {
	t.Helper()
	args := append([]string{"--create", "--file", file}, extra...)
	if out, err := exec.Command("jar", append(args, "-C", dir, ".")...).CombinedOutput(); err != nil {
		t.Fatalf("jar: %v\n%s", err, out)
	}
}

// springBootApp writes an exploded Spring-Boot-shaped jar: the loader under org/, the
// app under BOOT-INF/classes, its Greeting in BOOT-INF/lib/greeting.jar, layers.idx.
func springBootApp(t *testing.T, app, greeting string) {
	t.Helper()
	lib := t.TempDir()
	javac(t, lib, "", map[string]string{"hello/Greeting.java": fmt.Sprintf(greetingJava, greeting)})
	os.MkdirAll(filepath.Join(app, "BOOT-INF", "lib"), 0o755)
	jar(t, filepath.Join(app, "BOOT-INF", "lib", "greeting.jar"), lib)
	javac(t, filepath.Join(app, "BOOT-INF", "classes"), lib, map[string]string{"hello/Main.java": mainJava})
	javac(t, app, "", map[string]string{"org/example/loader/Loader.java": loaderJava})
	e2ekit.WriteFile(t, filepath.Join(app, "BOOT-INF", "layers.idx"), layersIdx)
	e2ekit.WriteFile(t, filepath.Join(app, "META-INF", "MANIFEST.MF"), "Manifest-Version: 1.0\nMain-Class: org.example.loader.Loader\n"+
		"Start-Class: hello.Main\nSpring-Boot-Version: 3.2.0\nSpring-Boot-Classes: BOOT-INF/classes/\nSpring-Boot-Lib: BOOT-INF/lib/\n"+
		"Spring-Boot-Layers-Index: BOOT-INF/layers.idx\nBuild-Jdk-Spec: 17\n\n")
}

var builderOnce struct {
	sync.Once
	path string
}

// javaBuilder is the default builder's Java group on the default stack, written once
// for the package's tests.
func javaBuilder(t *testing.T) string {
	builderOnce.Do(func() {
		p := e2ekit.OurBuilder(t, "slipway/build:bookworm", "slipway/run:bookworm", false, "slipway/apt", "slipway/java")
		dir, err := os.MkdirTemp("", "slipway-java-builder-")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(p)
		builderOnce.path = filepath.Join(dir, "builder.toml")
		os.WriteFile(builderOnce.path, b, 0o644)
	})
	return builderOnce.path
}

func buildArgs(name, app, builder string, extra ...string) []string {
	return append([]string{"build", name, "--path", app, "--builder", builder, "--network", "host"}, extra...)
}

func changedLayers(a, b []string) []int {
	var changed []int
	for i := range a {
		if i >= len(b) || a[i] != b[i] {
			changed = append(changed, i)
		}
	}
	return changed
}

// An exploded Spring-Boot-shaped jar: the JRE comes from Debian packages (Java 17, the
// manifest's Build-Jdk-Spec), the app answers HTTP under a 512 MiB limit with the
// calculated memory flags, PORT reaches SERVER_PORT; layers.idx splits the app into
// slices so a code change re-exports only the application slice; a 64 MiB limit stops
// the launch with the numbers before the JVM starts.
func TestJavaSpringBootLayers(t *testing.T) {
	e := e2ekit.DefaultStackEnv(t)
	app := filepath.Join(t.TempDir(), "app")
	springBootApp(t, app, "hello from boot")
	args := buildArgs("java-boot", app, javaBuilder(t))

	start := time.Now()
	out := e.MustSlipway(args...)
	t.Logf("cold build: %s", time.Since(start).Round(time.Millisecond))
	e2ekit.MustContain(t, out, "App: exploded jar", `Java 17 from debian (the stack's apt sources); asked for: 17 (from the manifest's Build-Jdk-Spec "17")`,
		"Installed JRE 17 in layer jre", "Spring Boot layers.idx: 3 slices (dependencies, spring-boot-loader, application)",
		"Process web: java -cp /workspace org.example.loader.Loader", "Successfully built image java-boot")
	first := e2ekit.ImageLayers(t, e.Store, "java-boot")
	archive := filepath.Join(t.TempDir(), "java-boot.tar")
	e.MustSlipway("save", "java-boot", "-o", archive)
	c := e2ekit.PodmanServe(t, archive, "localhost/java-boot", "--memory", "512m")
	body := c.Get()
	logs := c.Logs()
	e2ekit.MustContain(t, body, "hello from boot on Java 17.", "-Xss1M", "-XX:MaxMetaspaceSize=", "-XX:ReservedCodeCacheSize=64M", "-XX:MaxDirectMemorySize=10M",
		fmt.Sprintf("server.port=%d", c.Port))
	e2ekit.MustContain(t, logs, "JVM memory for a 512M limit")
	if !strings.Contains(body, "-Xmx") {
		t.Errorf("no -Xmx in the JVM's options: %s\n%s", body, logs)
	}
	t.Logf("GET /: %s", strings.TrimSpace(body))
	t.Logf("calculator: %s", firstLine(logs, "JVM memory"))

	out, code := e2ekit.PodmanRunCode(t, archive, "", "localhost/java-boot", []string{"--memory", "64m"})
	if code == 0 {
		t.Errorf("the app started under a 64m limit:\n%s", out)
	}
	e2ekit.MustContain(t, out, "memory limit 64M", "is too small for the JVM", "250 threads × 1M stack = 250M", "Raise the limit")
	if strings.Contains(out, "listening on") {
		t.Errorf("the JVM started under 64m:\n%s", out)
	}

	// A code change: only the application slice (BOOT-INF/classes, META-INF) differs.
	javac(t, filepath.Join(app, "BOOT-INF", "classes"), filepath.Join(app, "BOOT-INF", "lib", "greeting.jar"),
		map[string]string{"hello/Main.java": strings.Replace(mainJava, `" on Java "`, `" (edited) on Java "`, 1)})
	start = time.Now()
	out = e.MustSlipway(args...)
	t.Logf("rebuild after a code change: %s", time.Since(start).Round(time.Millisecond))
	e2ekit.MustContain(t, out, "Reusing JRE 17 in layer jre")
	second := e2ekit.ImageLayers(t, e.Store, "java-boot")
	if len(first) != len(second) {
		t.Fatalf("layer count %d → %d", len(first), len(second))
	}
	if changed := changedLayers(first, second); len(changed) != 1 {
		t.Errorf("changed layers %v of %d; want exactly the application slice", changed, len(first))
	}
}

func firstLine(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}
