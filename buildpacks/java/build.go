package java

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// Layer names.
const (
	layerDebs   = "debs"   // cache: .debs and apt indexes, the versions Debian offers
	layerJDK    = "jdk"    // build + cache: the JDK that compiles
	layerJRE    = "jre"    // launch (+ cache): the JVM that runs the app, with the memory calculator
	layerMaven  = "maven"  // build + cache: Maven from Debian packages
	layerM2     = "m2"     // cache: ~/.m2/repository
	layerGradle = "gradle" // cache: GRADLE_USER_HOME
)

// Build installs a JVM, builds the app with Maven or Gradle when it has sources, turns
// the artifact into the app directory and declares the web process.
func Build(ctx context.Context, bc sdk.BuildContext) (sdk.BuildResult, error) {
	return (&builder{}).build(ctx, bc)
}

// builder holds the test seams.
type builder struct {
	// aptRoot is the build image's root for sdk.Apt ("" is "/").
	aptRoot string
	http    *http.Client
	// self is the executable copied into exec.d; "" is os.Executable().
	self string
}

func (b *builder) build(ctx context.Context, bc sdk.BuildContext) (sdk.BuildResult, error) {
	log := bc.Log
	log.Title("Slipway Java buildpack")
	var res sdk.BuildResult
	cfg, err := readConfig(bc.Env, bc.PlatformDir)
	if err != nil {
		return res, err
	}
	kind, why := appKind(bc.AppDir)
	if kind == "" {
		return res, fmt.Errorf("not a Java app: %s", why)
	}
	if kind == KindWar {
		return res, fmt.Errorf("%s is a .war: slipway/java does not support war files yet (they need a servlet container); package the app as an executable jar instead (a jar with Main-Class, or Spring Boot's repackaged jar)", rootFiles(bc.AppDir, ".war")[0])
	}
	log.Step("App: %s", kindText[kind])
	built := kind == KindMaven || kind == KindGradle
	if !built {
		// A prebuilt app that cannot be started fails before anything is installed.
		if _, _, _, err := launchPlan(bc.AppDir, kind); err != nil {
			return res, err
		}
	}
	req, err := requirement(bc.Env, bc.PlatformDir, bc.AppDir, hintManifest(bc.AppDir, kind))
	if err != nil {
		return res, err
	}
	debs, err := cacheLayer(bc, layerDebs)
	if err != nil {
		return res, err
	}
	apt := &sdk.Apt{Root: b.aptRoot, Cache: debs, Log: log, HTTP: b.http}
	src, major, err := pickJVM(ctx, cfg.sources(apt, debs, b.http), req)
	if err != nil {
		return res, err
	}
	log.Step("Java %d from %s; asked for: %s", major, src.Name(), req)

	if built {
		jdk, err := bc.Layers.Get(layerJDK)
		if err != nil {
			return res, err
		}
		home, reused, err := src.Install(ctx, jdk, major, true, sdk.LayerTypes{Build: true, Cache: true})
		if err != nil {
			return res, err
		}
		if err := writeJavaEnv(jdk.BuildEnv(), home); err != nil {
			return res, err
		}
		log.Step("%s JDK %d in layer %s", reusedText(reused), major, layerJDK)
		if err := installTruststore(bc.Env, bc.PlatformDir, b.aptRoot, home, log); err != nil {
			return res, err
		}
		t := &tool{bc: bc, cfg: cfg, javaHome: home, apt: apt, http: b.http}
		var artifact string
		if kind == KindMaven {
			artifact, err = t.maven(ctx)
		} else {
			artifact, err = t.gradle(ctx)
		}
		if err != nil {
			return res, err
		}
		if kind, err = installArtifact(bc.AppDir, artifact, log); err != nil {
			return res, err
		}
	}

	jre, err := bc.Layers.Get(layerJRE)
	if err != nil {
		return res, err
	}
	home, reused, err := src.Install(ctx, jre, major, false, sdk.LayerTypes{Launch: true, Cache: true})
	if err != nil {
		return res, err
	}
	log.Step("%s JRE %d in layer %s", reusedText(reused), major, layerJRE)
	if err := writeJavaEnv(jre.SharedEnv(), home); err != nil {
		return res, err
	}
	if err := installTruststore(bc.Env, bc.PlatformDir, b.aptRoot, home, log); err != nil {
		return res, err
	}
	if err := b.installCalculator(jre); err != nil {
		return res, err
	}
	proc, springBoot, slices, err := launchPlan(bc.AppDir, kind)
	if err != nil {
		return res, err
	}
	if springBoot {
		// The calculator also maps PORT to SERVER_PORT for Spring Boot (README.md).
		if err := jre.LaunchEnv().Default("SLIPWAY_SPRING_BOOT", "true"); err != nil {
			return res, err
		}
	}
	if len(slices) > 0 {
		log.Step("Spring Boot layers.idx: %d slices (%s)", len(slices), sliceNames(slices))
		for _, s := range slices {
			res.Launch.Slices = append(res.Launch.Slices, sdk.Slice{Paths: s.Paths})
		}
	}
	if exists(filepath.Join(bc.AppDir, "Procfile")) {
		log.Step("Procfile present: its processes are used")
	} else {
		log.Step("Process web: %s", procText(proc))
		res.Launch.Processes = append(res.Launch.Processes, proc)
	}
	return res, nil
}

var kindText = map[string]string{
	KindMaven: "Maven project", KindGradle: "Gradle project", KindJar: "jar in the app root",
	KindExploded: "exploded jar (META-INF/MANIFEST.MF)", KindDistZip: "dist-zip (bin/ start script, lib/*.jar)",
}

func reusedText(reused bool) string {
	if reused {
		return "Reusing"
	}
	return "Installed"
}

// hintManifest is the manifest of a prebuilt app, for its Build-Jdk-Spec.
func hintManifest(dir, kind string) Manifest {
	switch kind {
	case KindExploded:
		m, _ := readManifestFile(filepath.Join(dir, "META-INF", "MANIFEST.MF"))
		return m
	case KindJar:
		if jars := rootFiles(dir, ".jar"); len(jars) > 0 {
			m, _ := readJarManifest(filepath.Join(dir, jars[0]))
			return m
		}
	}
	return nil
}

// installCalculator copies this binary into the JRE layer's exec.d, where the launcher
// runs it before the app (buildpack.md, Exec.d).
func (b *builder) installCalculator(jre *sdk.Layer) error {
	self := b.self
	if self == "" {
		var err error
		if self, err = os.Executable(); err != nil {
			return fmt.Errorf("find the buildpack's binary: %w", err)
		}
	}
	in, err := os.Open(self)
	if err != nil {
		return fmt.Errorf("install the memory calculator: %w", err)
	}
	defer in.Close()
	dst := filepath.Join(jre.Path, "exec.d", MemoryCalculatorName)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o755)
	if err != nil {
		return fmt.Errorf("install the memory calculator: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("install the memory calculator: %w", err)
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

func cacheLayer(bc sdk.BuildContext, name string) (*sdk.Layer, error) {
	l, err := bc.Layers.Get(name)
	if err != nil {
		return nil, err
	}
	l.Types = sdk.LayerTypes{Cache: true}
	if err := l.Write(); err != nil {
		return nil, err
	}
	return l, nil
}
