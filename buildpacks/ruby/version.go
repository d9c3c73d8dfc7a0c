package ruby

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// Version is a Ruby release, major.minor.patch.
type Version = sdk.Version

var versionRE = regexp.MustCompile(`^(?:ruby-)?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:[.-]?p\d+)?$`)

// partial is a version as written: how many of its parts were given.
type partial struct {
	v Version
	n int
}

func parsePartial(s string) (partial, bool) {
	m := versionRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return partial{}, false
	}
	var p partial
	for i, part := range m[1:4] {
		if part == "" {
			break
		}
		n, _ := strconv.Atoi(part)
		p.v[i], p.n = n, i+1
	}
	return p, true
}

// clause is one "op version" of a RubyGems requirement (guides.rubygems.org/patterns,
// Pessimistic version constraint).
type clause struct {
	op string
	p  partial
}

// Requirement is what the app asks for: RubyGems requirement clauses, all of which must
// hold, and where they were written.
type Requirement struct {
	Clauses []clause
	Source  string // "Gemfile", ".ruby-version", "BP_RUBY_VERSION", or "" for none
	Text    string
}

// Any reports whether the app named no version.
func (r Requirement) Any() bool { return len(r.Clauses) == 0 }

func (r Requirement) allows(v Version) bool {
	for _, c := range r.Clauses {
		cmp := v.Compare(c.p.v)
		ok := false
		switch c.op {
		case "=":
			ok = cmp == 0
		case "!=":
			ok = cmp != 0
		case ">":
			ok = cmp > 0
		case ">=":
			ok = cmp >= 0
		case "<":
			ok = cmp < 0
		case "<=":
			ok = cmp <= 0
		case "~>":
			// ~> 3.1.2 is >= 3.1.2, < 3.2; ~> 3.1 is >= 3.1, < 4; ~> 3 is >= 3, < 4.
			upper := c.p.v
			switch c.p.n {
			case 1, 2:
				upper = Version{c.p.v[0] + 1, 0, 0}
			default:
				upper = Version{c.p.v[0], c.p.v[1] + 1, 0}
			}
			ok = cmp >= 0 && v.Compare(upper) < 0
		case "prefix":
			ok = true
			for i := 0; i < c.p.n; i++ {
				ok = ok && v[i] == c.p.v[i]
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// Newest is the newest offered version the requirement allows.
func (r Requirement) Newest(offered []Version) (Version, bool) {
	return sdk.Newest(offered, r.allows)
}

var clauseRE = regexp.MustCompile(`^(=|!=|>=|<=|>|<|~>)?\s*(.+)$`)

// parseRequirement reads RubyGems requirement strings ("~> 3.1", ">= 3.0"). A bare
// version of one or two parts ("3", "3.1") means that series, as users mean it; a
// full one ("3.1.2") means exactly it, as Bundler checks it.
func parseRequirement(source string, parts []string) (Requirement, error) {
	r := Requirement{Source: source, Text: strings.Join(parts, ", ")}
	for _, s := range parts {
		m := clauseRE.FindStringSubmatch(strings.TrimSpace(s))
		if m == nil {
			return r, fmt.Errorf("%s: %q is not a Ruby version requirement", source, s)
		}
		p, ok := parsePartial(m[2])
		if !ok {
			return r, fmt.Errorf("%s: %q is not a Ruby version (want e.g. 3.1.2, ~> 3.1)", source, s)
		}
		op := m[1]
		if op == "" || op == "=" {
			op = "="
			if p.n < 3 {
				op = "prefix"
			}
		}
		r.Clauses = append(r.Clauses, clause{op: op, p: p})
	}
	return r, nil
}

// gemfileRuby matches Gemfile's ruby directive: ruby "3.1.2", ruby("~> 3.1", ">= 3.1.1"),
// ruby file: ".ruby-version", ruby "3.1.2", engine: "ruby", …
var (
	gemfileRuby  = regexp.MustCompile(`(?m)^[ \t]*ruby\b[ \t]*\(?[ \t]*(.*)$`)
	quoted       = regexp.MustCompile(`^['"]([^'"]*)['"]`)
	rubyFileOpt  = regexp.MustCompile(`(?:file:|:file\s*=>)\s*['"]([^'"]+)['"]`)
	gemfileNames = []string{"Gemfile", "gems.rb"}
)

// versionRequirement finds the Ruby the app asks for: BP_RUBY_VERSION, else Gemfile's
// ruby directive (or the file it names), else .ruby-version; none of them is Any.
func versionRequirement(appDir, setting string) (Requirement, error) {
	if setting != "" {
		return parseRequirement("BP_RUBY_VERSION", []string{setting})
	}
	for _, name := range gemfileNames {
		b, err := os.ReadFile(filepath.Join(appDir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return Requirement{}, fmt.Errorf("read %s: %w", name, err)
		}
		m := gemfileRuby.FindSubmatch(b)
		if m == nil {
			break
		}
		rest := strings.TrimSpace(string(m[1]))
		if f := rubyFileOpt.FindStringSubmatch(rest); f != nil && !quoted.MatchString(rest) {
			r, ok, err := rubyVersionFile(appDir, filepath.Clean("/" + f[1])[1:])
			if err != nil || ok {
				return r, err
			}
			return Requirement{}, fmt.Errorf("%s: ruby file: %q, but the app has no such file", name, f[1])
		}
		var parts []string
		for {
			q := quoted.FindStringSubmatch(rest)
			if q == nil {
				break
			}
			parts = append(parts, q[1])
			rest = strings.TrimSpace(rest[len(q[0]):])
			if !strings.HasPrefix(rest, ",") {
				break
			}
			rest = strings.TrimSpace(rest[1:])
		}
		if len(parts) == 0 {
			return Requirement{}, fmt.Errorf("%s: cannot read the ruby directive %q (want e.g. ruby \"3.1.2\" or ruby file: \".ruby-version\"); set BP_RUBY_VERSION instead", name, strings.TrimSpace(string(m[0])))
		}
		return parseRequirement(name+" ruby", parts)
	}
	r, ok, err := rubyVersionFile(appDir, ".ruby-version")
	if err != nil || ok {
		return r, err
	}
	return Requirement{}, nil
}

// rubyVersionFile reads a .ruby-version file ("3.1.2", "ruby-3.1.2", "3.1").
func rubyVersionFile(appDir, name string) (Requirement, bool, error) {
	b, err := os.ReadFile(filepath.Join(appDir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return Requirement{}, false, nil
	}
	if err != nil {
		return Requirement{}, false, fmt.Errorf("read %s: %w", name, err)
	}
	text := strings.TrimSpace(string(b))
	if i := strings.IndexAny(text, "\n#"); i >= 0 {
		text = strings.TrimSpace(text[:i])
	}
	p, ok := parsePartial(text)
	if !ok {
		return Requirement{}, false, fmt.Errorf("%s: %q is not a Ruby version (want e.g. 3.1.2 or ruby-3.1.2)", name, text)
	}
	// A version manager's file names one release, or a series when shortened.
	op := "prefix"
	return Requirement{Clauses: []clause{{op: op, p: p}}, Source: name, Text: text}, true, nil
}
