package python

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// Version is a CPython release, major.minor.patch.
type Version = sdk.Version

// compare orders versions (runtime.go sorts with it).
func compare(a, b Version) int { return a.Compare(b) }

// ParseVersion parses "3.11.9" (a missing part is 0; a pre-release suffix is refused).
func ParseVersion(s string) (Version, int, error) {
	var v Version
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) == 0 || len(parts) > 3 {
		return v, 0, fmt.Errorf("%q is not a Python version (want 3.X or 3.X.Y)", s)
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return v, 0, fmt.Errorf("%q is not a Python version (want 3.X or 3.X.Y)", s)
		}
		v[i] = n
	}
	return v, len(parts), nil
}

// clause is one comparison of a version specifier.
type clause struct {
	op      string
	v       Version
	n       int  // parts given
	prefix  bool // "==3.11.*"
	rawText string
}

// Requirement is a version constraint and where it came from.
type Requirement struct {
	Text, Source string
	clauses      []clause
}

// ParseRequirement understands the forms Python projects use: "3.11" / "3.11.9" (that
// release line / that release), PEP 440 specifiers (">=3.9,<3.13", "~=3.11", "==3.11.*",
// "!=3.12.0"), Poetry's "^3.11" and "~3.11", and "*".
func ParseRequirement(text, source string) (Requirement, error) {
	r := Requirement{Text: strings.TrimSpace(text), Source: source}
	for _, part := range strings.Split(r.Text, ",") {
		part = strings.TrimSpace(part)
		if part == "" || part == "*" {
			continue
		}
		op := ""
		for _, o := range []string{"===", "==", "!=", "~=", ">=", "<=", ">", "<", "^", "~"} {
			if strings.HasPrefix(part, o) {
				op = o
				break
			}
		}
		rest := strings.TrimSpace(strings.TrimPrefix(part, op))
		prefix := strings.HasSuffix(rest, ".*")
		rest = strings.TrimSuffix(rest, ".*")
		v, n, err := ParseVersion(rest)
		if err != nil {
			return r, fmt.Errorf("%s: version constraint %q: %w", source, text, err)
		}
		if op == "" {
			op, prefix = "==", n < 3
		}
		switch op {
		case "===":
			op = "=="
		case "^": // Poetry: >= v, < next major (or next minor for 0.x)
			r.clauses = append(r.clauses, clause{op: ">=", v: v, n: n})
			op, v, n = "<", Version{v[0] + 1}, 1
		case "~": // Poetry: >= v, < next minor
			r.clauses = append(r.clauses, clause{op: ">=", v: v, n: n})
			if n == 1 {
				op, v = "<", Version{v[0] + 1}
			} else {
				op, v = "<", Version{v[0], v[1] + 1}
			}
		case "~=": // PEP 440 compatible release: >= v, == v minus its last part .*
			if n < 2 {
				return r, fmt.Errorf("%s: %q: ~= needs at least two version parts", source, text)
			}
			r.clauses = append(r.clauses, clause{op: ">=", v: v, n: n})
			op, prefix, n = "==", true, n-1
		}
		r.clauses = append(r.clauses, clause{op: op, v: v, n: n, prefix: prefix, rawText: part})
	}
	return r, nil
}

// Matches reports whether v satisfies every clause.
func (r Requirement) Matches(v Version) bool {
	for _, c := range r.clauses {
		if c.prefix {
			eq := true
			for i := 0; i < c.n; i++ {
				eq = eq && v[i] == c.v[i]
			}
			if (c.op == "==") != eq {
				return false
			}
			continue
		}
		d := v.Compare(c.v)
		ok := map[string]bool{"==": d == 0, "!=": d != 0, ">=": d >= 0, "<=": d <= 0, ">": d > 0, "<": d < 0}[c.op]
		if !ok {
			return false
		}
	}
	return true
}

// Newest returns the newest of vs that r allows.
func (r Requirement) Newest(vs []Version) (Version, bool) {
	return sdk.Newest(vs, r.Matches)
}

// FindRequirement reads the Python version the app asks for, first found wins:
// BP_CPYTHON_VERSION, .python-version, runtime.txt, Pipfile [requires], pyproject.toml
// (requires-python, or Poetry's python dependency). None means any version (the newest).
func FindRequirement(appDir, fromEnv string) (Requirement, error) {
	if fromEnv != "" {
		return ParseRequirement(fromEnv, "BP_CPYTHON_VERSION")
	}
	if line, n, ok := firstLine(filepath.Join(appDir, ".python-version")); ok {
		if strings.HasPrefix(line, "pypy") || line == "system" {
			return Requirement{}, fmt.Errorf(".python-version:%d: %q: only CPython versions (3.X or 3.X.Y) are supported", n, line)
		}
		return ParseRequirement(line, ".python-version")
	}
	if line, n, ok := firstLine(filepath.Join(appDir, "runtime.txt")); ok {
		v, found := strings.CutPrefix(line, "python-")
		if !found {
			return Requirement{}, fmt.Errorf("runtime.txt:%d: %q: want python-3.X.Y (e.g. python-3.11.9)", n, line)
		}
		return ParseRequirement(v, "runtime.txt")
	}
	if exists(filepath.Join(appDir, "Pipfile")) {
		var pf struct {
			Requires struct {
				PythonVersion     string `toml:"python_version"`
				PythonFullVersion string `toml:"python_full_version"`
			} `toml:"requires"`
		}
		if err := sdk.DecodeTOML(filepath.Join(appDir, "Pipfile"), &pf); err != nil {
			return Requirement{}, err
		}
		if v := pf.Requires.PythonFullVersion; v != "" {
			return ParseRequirement(v, "Pipfile python_full_version")
		}
		if v := pf.Requires.PythonVersion; v != "" {
			return ParseRequirement(v, "Pipfile python_version")
		}
	}
	if exists(filepath.Join(appDir, "pyproject.toml")) {
		pp, err := readPyproject(appDir)
		if err != nil {
			return Requirement{}, err
		}
		if v := pp.Project.RequiresPython; v != "" {
			return ParseRequirement(v, "pyproject.toml requires-python")
		}
		if v, ok := pp.Tool.Poetry.Dependencies["python"].(string); ok && v != "" {
			return ParseRequirement(v, "pyproject.toml [tool.poetry.dependencies] python")
		}
	}
	return Requirement{Text: "*", Source: "default (the newest available)"}, nil
}

type pyproject struct {
	Project struct {
		RequiresPython string   `toml:"requires-python"`
		Dependencies   []string `toml:"dependencies"`
	} `toml:"project"`
	Tool struct {
		Poetry struct {
			Dependencies map[string]any `toml:"dependencies"`
		} `toml:"poetry"`
	} `toml:"tool"`
	BuildSystem struct {
		Requires []string `toml:"requires"`
	} `toml:"build-system"`
}

// readPyproject parses pyproject.toml; a syntax error names the file, line and column.
func readPyproject(appDir string) (*pyproject, error) {
	var pp pyproject
	if err := sdk.DecodeTOML(filepath.Join(appDir, "pyproject.toml"), &pp); err != nil {
		return nil, err
	}
	return &pp, nil
}

// firstLine returns the first line of a file that is not blank or a comment.
func firstLine(path string) (string, int, bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		if l != "" && !strings.HasPrefix(l, "#") {
			return l, n, true
		}
	}
	return "", 0, false
}
