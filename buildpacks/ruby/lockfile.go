package ruby

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Lockfile is what the buildpack reads from Gemfile.lock (bundler.io/man/gemfile.5,
// and the format Bundler writes): the locked gems, their sources, the Bundler that
// wrote it.
type Lockfile struct {
	Name string // Gemfile.lock or gems.locked
	// Specs are the locked gems by name (the first platform's version).
	Specs map[string]string
	// Remotes are the gem sources of the GEM sections.
	Remotes []string
	// BundledWith is the version under BUNDLED WITH, "" when absent.
	BundledWith string
	// RubyVersion is the line under RUBY VERSION ("ruby 3.1.2p20"), "" when absent.
	RubyVersion string
}

// Has reports whether gem name is locked.
func (l *Lockfile) Has(name string) bool {
	if l == nil {
		return false
	}
	_, ok := l.Specs[name]
	return ok
}

// LockError is a Gemfile.lock Bundler cannot read, with the position at fault.
type LockError struct {
	File         string
	Line, Column int
	Msg          string
}

func (e *LockError) Error() string {
	return fmt.Sprintf("%s: line %d, column %d: %s; fix the file or regenerate it with `bundle lock`", e.File, e.Line, e.Column, e.Msg)
}

var (
	specLine = regexp.MustCompile(`^    ([^ ()]+)(?: \(([^()]+)\))?$`)
	depLine  = regexp.MustCompile(`^      ([^ ()]+)(?: \(([^()]+)\))?$`)
	// A DEPENDENCIES entry: name, optional requirement, optional "!" (from a non-default source).
	topDep  = regexp.MustCompile(`^  ([^ ()!]+)(?: \(([^()]+)\))?!?$`)
	optLine = regexp.MustCompile(`^  ([a-z_]+): ?(.*)$`)
	version = regexp.MustCompile(`^\d+(\.[0-9A-Za-z]+)*(-[0-9A-Za-z_.-]+)?$`)
)

// sections a lockfile may have; Bundler stops at anything else.
var lockSections = map[string]bool{"GEM": true, "GIT": true, "PATH": true, "PLUGIN SOURCE": true,
	"PLATFORMS": true, "DEPENDENCIES": true, "RUBY VERSION": true, "BUNDLED WITH": true, "CHECKSUMS": true}

// ReadLockfile reads Gemfile.lock (or gems.locked) of appDir; nil when there is none. It
// checks the structure Bundler relies on and reports the first line that breaks it.
func ReadLockfile(appDir string) (*Lockfile, error) {
	for _, name := range []string{"Gemfile.lock", "gems.locked"} {
		b, err := os.ReadFile(filepath.Join(appDir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		return parseLockfile(name, string(b))
	}
	return nil, nil
}

func parseLockfile(name, text string) (*Lockfile, error) {
	l := &Lockfile{Name: name, Specs: map[string]string{}}
	fail := func(line, col int, format string, args ...any) error {
		return &LockError{File: name, Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
	}
	section := ""
	inSpecs := false
	sawSpec := false
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	for i, line := range lines {
		n := i + 1
		for _, marker := range []string{"<<<<<<<", "=======", ">>>>>>>"} {
			if strings.HasPrefix(line, marker) {
				return nil, fail(n, 1, "a merge conflict marker %q", marker)
			}
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		if line[0] != ' ' {
			if !lockSections[line] {
				return nil, fail(n, 1, "unknown section %q (want GEM, GIT, PATH, PLATFORMS, DEPENDENCIES, RUBY VERSION, BUNDLED WITH …)", line)
			}
			section, inSpecs = line, false
			continue
		}
		if section == "" {
			return nil, fail(n, 1, "an indented line before any section")
		}
		if strings.Contains(line, "\t") {
			return nil, fail(n, strings.Index(line, "\t")+1, "a tab; Bundler indents with spaces")
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		switch section {
		case "GEM", "GIT", "PATH", "PLUGIN SOURCE":
			if line == "  specs:" {
				inSpecs = true
				continue
			}
			if !inSpecs {
				m := optLine.FindStringSubmatch(line)
				if m == nil {
					return nil, fail(n, indent+1, "expected an option line like \"  remote: https://rubygems.org/\" in %s", section)
				}
				if section == "GEM" && m[1] == "remote" {
					l.Remotes = append(l.Remotes, m[2])
				}
				continue
			}
			switch indent {
			case 4:
				m := specLine.FindStringSubmatch(line)
				if m == nil || m[2] == "" {
					return nil, fail(n, 5, "expected a locked gem like \"    rack (2.2.8)\", found %q", strings.TrimSpace(line))
				}
				ver := m[2]
				if v, _, ok := strings.Cut(ver, "-"); ok && version.MatchString(v) {
					ver = v // platform-specific: 1.15.4-x86_64-linux
				}
				if !version.MatchString(m[2]) {
					return nil, fail(n, 5+len(m[1])+2, "%q is not a gem version", m[2])
				}
				if _, dup := l.Specs[m[1]]; !dup {
					l.Specs[m[1]] = ver
				}
				sawSpec = true
			case 6:
				if !depLine.MatchString(line) {
					return nil, fail(n, 7, "expected a dependency like \"      rack (>= 2.0)\", found %q", strings.TrimSpace(line))
				}
			default:
				return nil, fail(n, indent+1, "unexpected indentation of %d spaces (locked gems have 4, their dependencies 6)", indent)
			}
		case "DEPENDENCIES":
			if !topDep.MatchString(line) {
				return nil, fail(n, indent+1, "expected a dependency like \"  rack (~> 2.2)\", found %q", strings.TrimSpace(line))
			}
		case "PLATFORMS":
			if indent != 2 {
				return nil, fail(n, indent+1, "expected a platform indented by 2 spaces")
			}
		case "RUBY VERSION":
			l.RubyVersion = strings.TrimSpace(line)
		case "BUNDLED WITH":
			v := strings.TrimSpace(line)
			if !version.MatchString(v) {
				return nil, fail(n, indent+1, "%q is not a Bundler version", v)
			}
			l.BundledWith = v
		}
	}
	if !sawSpec && len(l.Remotes) == 0 && l.BundledWith == "" {
		return nil, fail(1, 1, "no GEM section and no BUNDLED WITH: this is not a lockfile Bundler wrote")
	}
	return l, nil
}
