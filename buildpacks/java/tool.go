package java

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// tool runs the app's build tool with the JDK.
type tool struct {
	bc       sdk.BuildContext
	cfg      config
	javaHome string
	apt      *sdk.Apt
	http     *http.Client // nil: http.DefaultClient
}

// BuildToolError is a failed Maven or Gradle run: its exit code and the last lines of
// its output (all of it was streamed to the build log).
type BuildToolError struct {
	Tool    string
	Command []string
	Code    int
	Tail    string
	// Hint says what to do about a failure the buildpack recognises in the output.
	Hint string
}

func (e *BuildToolError) Error() string {
	msg := fmt.Sprintf("%s failed with exit code %d: %s\nlast lines of its output:\n%s", e.Tool, e.Code, strings.Join(e.Command, " "), e.Tail)
	if e.Hint != "" {
		msg += "\n" + e.Hint
	}
	return msg
}

// hint recognises a failure whose cause is outside the project in a tool's output.
func hint(tail string) string {
	if strings.Contains(tail, "PKIX path building failed") || strings.Contains(tail, "unable to find valid certification path") {
		return "The JVM does not trust a server's TLS certificate (PKIX). The JVM's truststore holds the build image's CA bundle: " +
			"give the server's CA to the build with `slipway build --ca-certificates FILE` (or a binding of type ca-certificates)."
	}
	return ""
}

// maven runs ./mvnw, else Maven from Debian packages, with ~/.m2/repository in a cache
// layer and the settings.xml of a maven binding, and returns the built artifact.
func (t *tool) maven(ctx context.Context) (string, error) {
	bc, log := t.bc, t.bc.Log
	var mvn string
	wrapper, err := readMavenWrapper(bc.AppDir, bc.Env)
	if err != nil {
		return "", err
	}
	if script := filepath.Join(bc.AppDir, "mvnw"); wrapper != nil {
		var reused bool
		if mvn, reused, err = t.wrapperMaven(ctx, wrapper); err != nil {
			return "", err
		}
		log.Step("%s Maven from the wrapper's distributionUrl %s in layer %s", reusedText(reused), wrapper.URL, layerMaven)
	} else if exists(script) {
		// A wrapper without its properties file: only the script knows what it runs.
		if err := os.Chmod(script, 0o755); err != nil {
			return "", fmt.Errorf("make mvnw executable: %w", err)
		}
		mvn = script
		log.Step("Maven: ./mvnw (no %s)", wrapperProperties)
	} else {
		lay, err := bc.Layers.Get(layerMaven)
		if err != nil {
			return "", err
		}
		res, err := t.apt.Install(ctx, lay, sdk.AptRequest{Packages: []string{"maven"}, Build: true, Cache: true,
			Satisfied: append(append([]string(nil), maintainerOnly...), "java7-runtime-headless")})
		if err != nil {
			return "", err
		}
		mvn = filepath.Join(lay.Path, "usr/share/maven/bin/mvn")
		if !exists(mvn) {
			return "", fmt.Errorf("the maven package installed no usr/share/maven/bin/mvn into layer %s", layerMaven)
		}
		log.Step("%s Maven from Debian packages in layer %s", reusedText(res.Reused), layerMaven)
	}
	m2, err := cacheLayer(bc, layerM2)
	if err != nil {
		return "", err
	}
	args := []string{"--batch-mode", "-Dmaven.repo.local=" + filepath.Join(m2.Path, "repository")}
	for _, b := range bc.Env.Bindings(bc.PlatformDir, "maven") {
		if s := filepath.Join(b.Path, "settings.xml"); exists(s) {
			// Read from the binding where the platform mounted it: never copied into a layer.
			args = append(args, "--settings", s)
			log.Step("Maven settings from binding %s", b.Name)
			break
		}
	}
	args = append(append(args, t.cfg.MavenArgs...), t.cfg.MavenExtraArgs...)
	if err := t.run(ctx, "Maven", mvn, args, nil); err != nil {
		return "", err
	}
	return findArtifact(bc.AppDir, t.cfg.MavenModule, t.cfg.MavenArtifact, "BP_MAVEN_BUILT_MODULE", "BP_MAVEN_BUILT_ARTIFACT")
}

// gradle runs ./gradlew with GRADLE_USER_HOME in a cache layer; a gradle binding's
// gradle.properties goes there (the cache layer is never exported).
func (t *tool) gradle(ctx context.Context) (string, error) {
	bc, log := t.bc, t.bc.Log
	wrapper := filepath.Join(bc.AppDir, "gradlew")
	if !exists(wrapper) {
		return "", fmt.Errorf("a Gradle project needs ./gradlew (the Gradle wrapper): Debian's gradle package is too old to build current projects; run `gradle wrapper` and commit gradlew and gradle/wrapper/")
	}
	if err := os.Chmod(wrapper, 0o755); err != nil {
		return "", fmt.Errorf("make gradlew executable: %w", err)
	}
	home, err := cacheLayer(bc, layerGradle)
	if err != nil {
		return "", err
	}
	props := filepath.Join(home.Path, "gradle.properties")
	os.Remove(props)
	for _, b := range bc.Env.Bindings(bc.PlatformDir, "gradle") {
		if s := filepath.Join(b.Path, "gradle.properties"); exists(s) {
			data, err := os.ReadFile(s)
			if err != nil {
				return "", err
			}
			if err := os.WriteFile(props, data, 0o600); err != nil {
				return "", err
			}
			defer os.Remove(props)
			log.Step("Gradle properties from binding %s", b.Name)
			break
		}
	}
	log.Step("Gradle: ./gradlew")
	if err := t.run(ctx, "Gradle", wrapper, t.cfg.GradleArgs, []string{"GRADLE_USER_HOME=" + home.Path}); err != nil {
		return "", err
	}
	return findArtifact(bc.AppDir, t.cfg.GradleModule, t.cfg.GradleArtifact, "BP_GRADLE_BUILT_MODULE", "BP_GRADLE_BUILT_ARTIFACT")
}

// run streams the tool's output into the log and keeps its tail for the error.
func (t *tool) run(ctx context.Context, name, bin string, args, env []string) error {
	log := t.bc.Log
	log.Step("Running %s %s", filepath.Base(bin), strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = t.bc.AppDir
	cmd.Env = t.bc.Env.List(append([]string{
		"JAVA_HOME=" + t.javaHome,
		"PATH=" + filepath.Join(t.javaHome, "bin") + ":" + t.bc.Env.Get("PATH"),
	}, env...)...)
	tail := &tailWriter{max: 30}
	cmd.Stdout = io.MultiWriter(log.Writer(), tail)
	cmd.Stderr = cmd.Stdout
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return &BuildToolError{Tool: name, Command: append([]string{filepath.Base(bin)}, args...), Code: ee.ExitCode(), Tail: tail.String(), Hint: hint(tail.String())}
	}
	if err != nil {
		return fmt.Errorf("run %s: %w", bin, err)
	}
	return nil
}

// tailWriter keeps the last max lines written to it.
type tailWriter struct {
	max   int
	lines []string
	part  []byte
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.part = append(w.part, p...)
	for {
		i := bytes.IndexByte(w.part, '\n')
		if i < 0 {
			break
		}
		w.lines = append(w.lines, string(w.part[:i]))
		w.part = w.part[i+1:]
		if len(w.lines) > w.max {
			w.lines = w.lines[len(w.lines)-w.max:]
		}
	}
	return len(p), nil
}

func (w *tailWriter) String() string {
	lines := w.lines
	if len(w.part) > 0 {
		lines = append(lines, string(w.part))
	}
	return strings.Join(lines, "\n")
}

// findArtifact globs the built artifact (module/pattern under the app), leaving out
// sources, javadoc and the originals shading or repackaging leaves beside the result.
func findArtifact(appDir, module, pattern, moduleVar, artifactVar string) (string, error) {
	glob := filepath.Join(appDir, module, pattern)
	matches, err := filepath.Glob(glob)
	if err != nil {
		return "", fmt.Errorf("%s=%q: %w", artifactVar, pattern, err)
	}
	var found []string
	for _, m := range matches {
		b := filepath.Base(m)
		if strings.HasSuffix(b, "-sources.jar") || strings.HasSuffix(b, "-javadoc.jar") || strings.HasSuffix(b, "-tests.jar") ||
			strings.HasPrefix(b, "original-") || strings.HasSuffix(b, "-plain.jar") || strings.HasSuffix(b, ".original") {
			continue
		}
		if fi, err := os.Stat(m); err == nil && fi.Mode().IsRegular() {
			found = append(found, m)
		}
	}
	sort.Strings(found)
	rel := func(ps []string) string {
		var out []string
		for _, p := range ps {
			r, _ := filepath.Rel(appDir, p)
			out = append(out, r)
		}
		return strings.Join(out, ", ")
	}
	relGlob, _ := filepath.Rel(appDir, glob)
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		var have []string
		if ents, err := os.ReadDir(filepath.Dir(glob)); err == nil {
			for _, e := range ents {
				have = append(have, e.Name())
			}
		}
		return "", fmt.Errorf("the build left no artifact matching %s (%s/%s); %s holds: %s", relGlob, moduleVar, artifactVar, filepath.Dir(relGlob), strings.Join(have, " "))
	}
	return "", fmt.Errorf("the build left %d artifacts matching %s: %s; set %s (or %s for a multi-module build) to pick one", len(found), relGlob, rel(found), artifactVar, moduleVar)
}
