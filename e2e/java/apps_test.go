package java

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/slipway/slipway/internal/e2ekit"
)

// A plain fat jar in the app root runs with java -jar; a dist-zip app (bin/ start
// script, lib/*.jar) runs through its script. Both builds share the image name, so the
// second reuses the JRE from the cache.
func TestJavaJarAndDistZip(t *testing.T) {
	e := e2ekit.DefaultStackEnv(t)
	classes := t.TempDir()
	javac(t, classes, "", map[string]string{"hello/Main.java": mainJava, "hello/Greeting.java": fmt.Sprintf(greetingJava, "hello from a fat jar")})
	app := filepath.Join(t.TempDir(), "jar")
	os.MkdirAll(app, 0o755)
	jar(t, filepath.Join(app, "hello.jar"), classes, "--main-class", "hello.Main")
	out := e.MustSlipway(buildArgs("java-jar", app, javaBuilder(t), "--env", "BP_JVM_VERSION=17")...)
	e2ekit.MustContain(t, out, "App: jar in the app root", `asked for: 17 (from BP_JVM_VERSION "17")`, "Process web: java -jar /workspace/hello.jar")
	archive := filepath.Join(t.TempDir(), "java-jar.tar")
	e.MustSlipway("save", "java-jar", "-o", archive)
	e2ekit.MustContain(t, e2ekit.PodmanServe(t, archive, "localhost/java-jar").Get(), "hello from a fat jar on Java 17.", "-Xmx")

	javac(t, classes, "", map[string]string{"hello/Greeting.java": fmt.Sprintf(greetingJava, "hello from a dist-zip")})
	dist := filepath.Join(t.TempDir(), "dist")
	os.MkdirAll(filepath.Join(dist, "lib"), 0o755)
	jar(t, filepath.Join(dist, "lib", "hello.jar"), classes)
	e2ekit.WriteFile(t, filepath.Join(dist, "bin", "hello"), "#!/bin/sh\nAPP_HOME=$(cd \"$(dirname \"$0\")/..\" && pwd)\nexec java -cp \"$APP_HOME/lib/*\" hello.Main \"$@\"\n")
	os.Chmod(filepath.Join(dist, "bin", "hello"), 0o755)
	e2ekit.WriteFile(t, filepath.Join(dist, "bin", "hello.bat"), "@rem windows\n")
	out = e.MustSlipway(buildArgs("java-jar", dist, javaBuilder(t))...)
	e2ekit.MustContain(t, out, "App: dist-zip", "Reusing JRE 17", "Process web: /workspace/bin/hello")
	e.MustSlipway("save", "java-jar", "-o", archive)
	e2ekit.MustContain(t, e2ekit.PodmanServe(t, archive, "localhost/java-jar").Get(), "hello from a dist-zip on Java 17.")
}

// Bad input that fails before anything is installed: each message names the file or
// the version and what the sources offer.
func TestJavaBadInput(t *testing.T) {
	e := e2ekit.DefaultStackEnv(t)
	builder := javaBuilder(t)
	lib := t.TempDir()
	javac(t, lib, "", map[string]string{"hello/Greeting.java": fmt.Sprintf(greetingJava, "x")})
	libJar := filepath.Join(t.TempDir(), "lib.jar")
	jar(t, libJar, lib)
	libBytes, _ := os.ReadFile(libJar)
	cases := []struct {
		name  string
		files map[string]string
		env   []string
		want  []string
	}{
		{"jar without Main-Class", map[string]string{"lib.jar": string(libBytes)}, nil,
			[]string{"no jar in the app root can be run: lib.jar has no Main-Class in META-INF/MANIFEST.MF"}},
		{"war", map[string]string{"app.war": string(libBytes)}, nil, []string{"app.war is a .war: slipway/java does not support war files yet"}},
		{"JVM version no source has", map[string]string{"pom.xml": "<project/>", ".java-version": "21\n"}, nil,
			[]string{`no JVM 21 (from .java-version "21") in the sources searched: debian (the stack's apt sources) offers 17`}},
		{"sources alone", map[string]string{"Main.java": "class Main {}"}, nil, []string{"*.java sources alone are not enough"}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			app := filepath.Join(t.TempDir(), "app")
			for name, content := range tc.files {
				e2ekit.WriteFile(t, filepath.Join(app, name), content)
			}
			out, code := e.Slipway(buildArgs(fmt.Sprintf("java-bad-%d", i), app, builder)...)
			if code == 0 {
				t.Fatalf("build succeeded:\n%s", out)
			}
			e2ekit.MustContain(t, out, tc.want...)
		})
	}
}
