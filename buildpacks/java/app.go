package java

import (
	"archive/zip"
	"bufio"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// isSpringBoot reports whether a manifest is a Spring Boot executable jar's.
func isSpringBoot(m Manifest) bool {
	return m.Get("Spring-Boot-Version") != "" || m.Get("Spring-Boot-Classes") != "" || m.Get("Start-Class") != ""
}

// installArtifact replaces the app's sources with what runs: a Spring Boot jar is
// exploded (so layers.idx can split it), any other executable jar is kept with the
// files its Class-Path names. It returns the app kind that results.
func installArtifact(appDir, artifact string, log *sdk.Logger) (string, error) {
	rel, _ := filepath.Rel(appDir, artifact)
	if strings.HasSuffix(artifact, ".war") {
		return "", fmt.Errorf("the build made %s, a .war: slipway/java does not support war files yet (they need a servlet container); build an executable jar instead", rel)
	}
	m, err := readJarManifest(artifact)
	if err != nil {
		return "", err
	}
	if m.Get("Main-Class") == "" {
		return "", fmt.Errorf("the built jar %s has no Main-Class in META-INF/MANIFEST.MF, so it cannot be run; set the main class (maven-jar-plugin's archive/manifest/mainClass, Gradle's jar.manifest.attributes) or build a Spring Boot or shaded executable jar", rel)
	}
	keep, err := os.MkdirTemp("", "slipway-java-artifact-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(keep)
	moved := filepath.Join(keep, filepath.Base(artifact))
	if err := copyFile(artifact, moved); err != nil {
		return "", err
	}
	var classPath []string
	if !isSpringBoot(m) {
		for _, cp := range strings.Fields(m.Get("Class-Path")) {
			if strings.Contains(cp, ":") || path.IsAbs(cp) || strings.HasPrefix(path.Clean(cp), "..") {
				continue // a URL or a path outside the build: nothing to keep
			}
			src := filepath.Join(filepath.Dir(artifact), filepath.FromSlash(cp))
			if fi, err := os.Stat(src); err == nil && fi.Mode().IsRegular() {
				if err := copyFile(src, filepath.Join(keep, "cp", filepath.FromSlash(cp))); err != nil {
					return "", err
				}
				classPath = append(classPath, cp)
			}
		}
	}
	ents, err := os.ReadDir(appDir)
	if err != nil {
		return "", err
	}
	for _, e := range ents {
		if e.Name() == "Procfile" {
			continue
		}
		if err := os.RemoveAll(filepath.Join(appDir, e.Name())); err != nil {
			return "", fmt.Errorf("remove the sources from the app dir: %w", err)
		}
	}
	if isSpringBoot(m) {
		log.Step("Spring Boot jar %s: exploded into the app dir", rel)
		return KindExploded, unzip(moved, appDir)
	}
	log.Step("Executable jar %s (Main-Class %s) into the app dir", rel, m.Get("Main-Class"))
	if err := copyFile(moved, filepath.Join(appDir, filepath.Base(artifact))); err != nil {
		return "", err
	}
	for _, cp := range classPath {
		if err := copyFile(filepath.Join(keep, "cp", filepath.FromSlash(cp)), filepath.Join(appDir, filepath.FromSlash(cp))); err != nil {
			return "", err
		}
	}
	return KindJar, nil
}

// launchPlan is the web process for a prepared app, whether it is a Spring Boot app,
// and the slices of its layers.idx.
func launchPlan(appDir, kind string) (sdk.Process, bool, []idxLayer, error) {
	web := sdk.Process{Type: "web", Default: true}
	switch kind {
	case KindExploded:
		m, err := readManifestFile(filepath.Join(appDir, "META-INF", "MANIFEST.MF"))
		if err != nil {
			return web, false, nil, err
		}
		main := m.Get("Main-Class")
		if main == "" {
			return web, false, nil, fmt.Errorf("META-INF/MANIFEST.MF has no Main-Class: the exploded jar cannot be run")
		}
		cp := []string{appDir}
		for _, e := range strings.Fields(m.Get("Class-Path")) {
			if !strings.Contains(e, ":") {
				cp = append(cp, filepath.Join(appDir, filepath.FromSlash(e)))
			}
		}
		web.Command = []string{"java", "-cp", strings.Join(cp, ":"), main}
		var slices []idxLayer
		if idx := m.Get("Spring-Boot-Layers-Index"); idx != "" || exists(filepath.Join(appDir, "BOOT-INF", "layers.idx")) {
			if idx == "" {
				idx = "BOOT-INF/layers.idx"
			}
			if slices, err = readLayersIndex(filepath.Join(appDir, filepath.FromSlash(idx))); err != nil {
				return web, false, nil, err
			}
		}
		return web, isSpringBoot(m), slices, nil
	case KindJar:
		var runnable, without []string
		for _, j := range rootFiles(appDir, ".jar") {
			m, err := readJarManifest(filepath.Join(appDir, j))
			if err != nil {
				return web, false, nil, err
			}
			if m.Get("Main-Class") != "" {
				runnable = append(runnable, j)
			} else {
				without = append(without, j)
			}
		}
		switch len(runnable) {
		case 0:
			return web, false, nil, fmt.Errorf("no jar in the app root can be run: %s has no Main-Class in META-INF/MANIFEST.MF", strings.Join(without, ", "))
		case 1:
			m, _ := readJarManifest(filepath.Join(appDir, runnable[0]))
			web.Command = []string{"java", "-jar", filepath.Join(appDir, runnable[0])}
			return web, isSpringBoot(m), nil, nil
		}
		return web, false, nil, fmt.Errorf("%d jars in the app root have a Main-Class (%s): keep one, or start the one you want from a Procfile", len(runnable), strings.Join(runnable, ", "))
	case KindDistZip:
		script, _ := distZipScript(appDir)
		web.Command = []string{filepath.Join(appDir, script)}
		return web, false, nil, nil
	}
	return web, false, nil, fmt.Errorf("no way to start a %s app", kind)
}

// idxLayer is one layer of a Spring Boot layers.idx: a name and the paths in it.
type idxLayer struct {
	Name  string
	Paths []string
}

// readLayersIndex reads BOOT-INF/layers.idx (Spring Boot reference, "Packaging Layered
// Jar or War"): `- "name":` lines, each followed by `  - "path"` lines; a path ending in
// "/" is a directory. The paths become slice globs with glob characters escaped.
func readLayersIndex(file string) ([]idxLayer, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("read the Spring Boot layers index: %w", err)
	}
	defer f.Close()
	var out []idxLayer
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
		case strings.HasPrefix(line, "- ") && strings.HasSuffix(line, ":"):
			out = append(out, idxLayer{Name: strings.Trim(strings.TrimSuffix(line[2:], ":"), `"`)})
		case strings.HasPrefix(line, "  - ") && len(out) > 0:
			p := strings.Trim(strings.TrimSpace(line[4:]), `"`)
			out[len(out)-1].Paths = append(out[len(out)-1].Paths, globEscape(strings.TrimSuffix(p, "/")))
		default:
			return nil, fmt.Errorf("%s line %d: %q is neither `- \"layer\":` nor `  - \"path\"`", file, n, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	var nonEmpty []idxLayer
	for _, l := range out {
		if len(l.Paths) > 0 {
			nonEmpty = append(nonEmpty, l)
		}
	}
	return nonEmpty, nil
}

func globEscape(p string) string {
	var b strings.Builder
	for _, r := range p {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func sliceNames(ls []idxLayer) string {
	var n []string
	for _, l := range ls {
		n = append(n, l.Name)
	}
	return strings.Join(n, ", ")
}

func procText(p sdk.Process) string { return strings.Join(p.Command, " ") }

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// unzip extracts a jar into dir; entries escaping dir are refused.
func unzip(jar, dir string) error {
	zr, err := zip.OpenReader(jar)
	if err != nil {
		return fmt.Errorf("open %s: %w", jar, err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		name := path.Clean("/" + f.Name)[1:]
		if name == "" || name != strings.TrimSuffix(f.Name, "/") && name+"/" != f.Name {
			return fmt.Errorf("extract %s: entry %q escapes the app dir", filepath.Base(jar), f.Name)
		}
		target := filepath.Join(dir, filepath.FromSlash(name))
		if f.FileInfo().IsDir() {
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("extract %s: %w", f.Name, err)
		}
		out, err := os.OpenFile(target, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
		if err != nil {
			rc.Close()
			return err
		}
		_, err = io.Copy(out, rc)
		rc.Close()
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("extract %s: %w", f.Name, err)
		}
	}
	return nil
}
