package java

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// App kinds, from what the app directory holds.
const (
	KindMaven    = "maven"
	KindGradle   = "gradle"
	KindJar      = "jar"      // a *.jar in the app root
	KindWar      = "war"      // a *.war in the app root (not supported yet)
	KindExploded = "exploded" // META-INF/MANIFEST.MF with Main-Class: an unpacked jar
	KindDistZip  = "dist-zip" // bin/<name> start script + lib/*.jar
)

// appKind says what kind of Java app dir holds, or "" and why not. Build files win
// over artifacts: an app with pom.xml and a stale jar is built from source.
func appKind(dir string) (kind, why string) {
	switch {
	case exists(filepath.Join(dir, "pom.xml")) || exists(filepath.Join(dir, "mvnw")):
		return KindMaven, ""
	case exists(filepath.Join(dir, "build.gradle")) || exists(filepath.Join(dir, "build.gradle.kts")) || exists(filepath.Join(dir, "gradlew")):
		return KindGradle, ""
	}
	if mf := filepath.Join(dir, "META-INF", "MANIFEST.MF"); exists(mf) {
		if m, err := readManifestFile(mf); err == nil && m.Get("Main-Class") != "" {
			return KindExploded, ""
		}
		why = "META-INF/MANIFEST.MF has no Main-Class"
	}
	if jars := rootFiles(dir, ".jar"); len(jars) > 0 {
		return KindJar, ""
	}
	if wars := rootFiles(dir, ".war"); len(wars) > 0 {
		return KindWar, ""
	}
	if _, ok := distZipScript(dir); ok {
		return KindDistZip, ""
	}
	if why == "" {
		why = "no pom.xml, mvnw, build.gradle(.kts), gradlew, *.jar or *.war in the app root, no META-INF/MANIFEST.MF with Main-Class and no bin/ start script with lib/*.jar"
		if m, _ := filepath.Glob(filepath.Join(dir, "*.java")); len(m) > 0 {
			why += " (*.java sources alone are not enough: add a pom.xml or build.gradle)"
		}
	}
	return "", why
}

// Detect passes for a Maven or Gradle project, a jar or war in the app root, an
// exploded jar or a dist-zip app (README.md); otherwise the reason says what was
// looked for (buildpack.md, Detection; shown in the no-group report).
func Detect(_ context.Context, dc sdk.DetectContext) (sdk.DetectResult, error) {
	kind, why := appKind(dc.AppDir)
	if kind == "" {
		return sdk.Fail("slipway/java: %s", why), nil
	}
	return sdk.Pass(sdk.BuildPlan{PlanSections: sdk.PlanSections{
		Provides: []sdk.Provide{{Name: "jvm-application"}},
		Requires: []sdk.Require{{Name: "jvm-application", Metadata: map[string]any{"kind": kind}}},
	}}), nil
}

// rootFiles are the app root's regular files with suffix ext, sorted.
func rootFiles(dir, ext string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ext) {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

// distZipScript finds the start script of a dist-zip app (what Gradle's application
// plugin's distZip unpacks to): bin/<name> with lib/*.jar beside bin/.
func distZipScript(dir string) (string, bool) {
	if jars, _ := filepath.Glob(filepath.Join(dir, "lib", "*.jar")); len(jars) == 0 {
		return "", false
	}
	ents, err := os.ReadDir(filepath.Join(dir, "bin"))
	if err != nil {
		return "", false
	}
	for _, e := range ents {
		if e.Type().IsRegular() && !strings.HasSuffix(e.Name(), ".bat") {
			return filepath.Join("bin", e.Name()), true
		}
	}
	return "", false
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
