package java

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// Requirement is the JVM major version the app asks for and where that came from.
type Requirement struct {
	Major  int    // 0: no requirement, the newest LTS available
	Source string // "BP_JVM_VERSION", ".java-version", ".sdkmanrc", "pom.xml …", "the manifest's Build-Jdk-Spec"
	Text   string
	// AtLeast accepts a newer major when the exact one is not available (a compiler
	// release level: a newer JDK compiles for it).
	AtLeast bool
	// Hint takes the newest available when Major is not: a manifest records the JDK that
	// built the jar, which is not a requirement.
	Hint bool
}

func (r Requirement) String() string {
	if r.Major == 0 {
		return "the newest LTS available"
	}
	return fmt.Sprintf("%d (from %s %q)", r.Major, r.Source, r.Text)
}

// lts are the long-term-support majors, newest last.
var lts = []int{8, 11, 17, 21, 25}

var majorRE = regexp.MustCompile(`^(?:1\.)?(\d+)`)

// parseMajor reads a Java version as people write it: "17", "17.0.9", "1.8", "21-tem",
// "17.0.9-tem" (SDKMAN), "jdk-17.0.2+8".
func parseMajor(s string) (int, error) {
	t := strings.TrimPrefix(strings.TrimSpace(s), "jdk-")
	m := majorRE.FindStringSubmatch(t)
	if m == nil {
		return 0, fmt.Errorf("%q is not a Java version (want e.g. 17, 21 or 1.8)", s)
	}
	n, _ := strconv.Atoi(m[1])
	if n < 6 || n > 99 {
		return 0, fmt.Errorf("%q is not a Java version (want e.g. 17, 21 or 1.8)", s)
	}
	return n, nil
}

// requirement finds the version setting, strongest first: BP_JVM_VERSION, .java-version,
// .sdkmanrc's java=, pom.xml's maven.compiler.release/source (or java.version), the
// manifest's Build-Jdk-Spec.
func requirement(env sdk.Environ, platformDir, appDir string, m Manifest) (Requirement, error) {
	if v := strings.TrimSpace(env.Config(platformDir, "BP_JVM_VERSION", "")); v != "" {
		n, err := parseMajor(v)
		if err != nil {
			return Requirement{}, fmt.Errorf("BP_JVM_VERSION: %w", err)
		}
		return Requirement{Major: n, Source: "BP_JVM_VERSION", Text: v}, nil
	}
	if b, err := os.ReadFile(filepath.Join(appDir, ".java-version")); err == nil {
		v := strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
		n, err := parseMajor(v)
		if err != nil {
			return Requirement{}, fmt.Errorf(".java-version: %w", err)
		}
		return Requirement{Major: n, Source: ".java-version", Text: v}, nil
	}
	if b, err := os.ReadFile(filepath.Join(appDir, ".sdkmanrc")); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
			if ok && strings.TrimSpace(k) == "java" {
				v = strings.TrimSpace(v)
				n, err := parseMajor(v)
				if err != nil {
					return Requirement{}, fmt.Errorf(".sdkmanrc: %w", err)
				}
				return Requirement{Major: n, Source: ".sdkmanrc", Text: v}, nil
			}
		}
	}
	if r, ok, err := pomRequirement(filepath.Join(appDir, "pom.xml")); err != nil || ok {
		return r, err
	}
	if spec := m.Get("Build-Jdk-Spec"); spec != "" {
		if n, err := parseMajor(spec); err == nil {
			return Requirement{Major: n, Source: "the manifest's Build-Jdk-Spec", Text: spec, Hint: true}, nil
		}
	}
	return Requirement{}, nil
}

type pom struct {
	Properties struct {
		Entries []struct {
			XMLName xml.Name
			Value   string `xml:",chardata"`
		} `xml:",any"`
	} `xml:"properties"`
}

// pomRequirement reads the compiler level of a pom.xml's properties.
func pomRequirement(path string) (Requirement, bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Requirement{}, false, nil
	}
	var p pom
	if err := xml.Unmarshal(b, &p); err != nil {
		return Requirement{}, false, fmt.Errorf("read pom.xml: %w", err)
	}
	props := map[string]string{}
	for _, e := range p.Properties.Entries {
		props[e.XMLName.Local] = strings.TrimSpace(e.Value)
	}
	for _, name := range []string{"maven.compiler.release", "maven.compiler.source", "maven.compiler.target", "java.version"} {
		v := props[name]
		if v == "" || strings.Contains(v, "${") {
			continue
		}
		n, err := parseMajor(v)
		if err != nil {
			return Requirement{}, false, fmt.Errorf("pom.xml %s: %w", name, err)
		}
		return Requirement{Major: n, Source: "pom.xml " + name, Text: v, AtLeast: true}, true, nil
	}
	return Requirement{}, false, nil
}

// choose picks the major to install from what the sources offer (any order).
func (r Requirement) choose(offered []int) (int, bool) {
	if len(offered) == 0 {
		return 0, false
	}
	s := append([]int(nil), offered...)
	sort.Ints(s)
	has := func(n int) bool { return sort.SearchInts(s, n) < len(s) && s[sort.SearchInts(s, n)] == n }
	switch {
	case r.Major == 0:
		for i := len(lts) - 1; i >= 0; i-- {
			if has(lts[i]) {
				return lts[i], true
			}
		}
		return s[len(s)-1], true
	case has(r.Major):
		return r.Major, true
	case r.Hint:
		return s[len(s)-1], true
	case r.AtLeast && s[len(s)-1] > r.Major:
		for _, n := range s {
			if n > r.Major {
				return n, true
			}
		}
	}
	return 0, false
}
