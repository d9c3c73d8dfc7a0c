package java

import (
	"archive/zip"
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
)

// Manifest is a jar's META-INF/MANIFEST.MF main section (JAR File Specification,
// "Manifest Specification").
type Manifest map[string]string

// Get returns an attribute, "" when absent.
func (m Manifest) Get(name string) string { return m[name] }

// parseManifest reads the main section: "Name: value" lines, a line starting with one
// space continuing the previous value, the first blank line ending the section.
func parseManifest(r io.Reader) (Manifest, error) {
	m := Manifest{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	var last string
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			break
		}
		if strings.HasPrefix(line, " ") && last != "" {
			m[last] += line[1:]
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("line %q is not \"Name: value\"", line)
		}
		last = strings.TrimSpace(k)
		m[last] = strings.TrimPrefix(v, " ")
	}
	return m, sc.Err()
}

func readManifestFile(path string) (Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := parseManifest(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return m, nil
}

// readJarManifest reads the manifest of a jar; a jar without one gives an empty Manifest.
func readJarManifest(jar string) (Manifest, error) {
	zr, err := zip.OpenReader(jar)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", jar, err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if strings.EqualFold(f.Name, "META-INF/MANIFEST.MF") {
			rc, err := f.Open()
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", jar, err)
			}
			defer rc.Close()
			m, err := parseManifest(rc)
			if err != nil {
				return nil, fmt.Errorf("read the manifest of %s: %w", jar, err)
			}
			return m, nil
		}
	}
	return Manifest{}, nil
}
