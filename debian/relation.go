package debian

import (
	"fmt"
	"strings"
)

// Relation is one package named in a Depends-like field, with an optional version
// constraint: "libc6 (>= 2.36)".
type Relation struct {
	Name    string
	Op      string // "", "<<", "<=", "=", ">=", ">>"
	Version string
}

func (r Relation) String() string {
	if r.Op == "" {
		return r.Name
	}
	return fmt.Sprintf("%s (%s %s)", r.Name, r.Op, r.Version)
}

// SatisfiedBy reports whether version meets the relation's constraint.
func (r Relation) SatisfiedBy(version string) bool {
	if r.Op == "" {
		return true
	}
	c := CompareVersions(version, r.Version)
	switch r.Op {
	case "<<":
		return c < 0
	case "<=":
		return c <= 0
	case "=":
		return c == 0
	case ">=":
		return c >= 0
	case ">>":
		return c > 0
	}
	return false
}

// Alternatives are relations joined by "|": any one satisfies the dependency.
type Alternatives []Relation

func (a Alternatives) String() string {
	s := make([]string, len(a))
	for i, r := range a {
		s[i] = r.String()
	}
	return strings.Join(s, " | ")
}

// ParseRelations parses a Depends/Pre-Depends/Provides field: comma-separated
// alternatives of "name[:arch] [(op version)] [[arch list]] [<profiles>]". Architecture
// qualifiers (":any", ":native") are dropped: the index holds one architecture.
// Architecture restrictions and build profiles only occur in source package fields.
func ParseRelations(field string) ([]Alternatives, error) {
	var out []Alternatives
	for _, group := range strings.Split(field, ",") {
		group = strings.TrimSpace(group)
		if group == "" {
			continue
		}
		var alts Alternatives
		for _, s := range strings.Split(group, "|") {
			r, err := parseRelation(strings.TrimSpace(s))
			if err != nil {
				return nil, fmt.Errorf("parse relation %q: %w", group, err)
			}
			alts = append(alts, r)
		}
		out = append(out, alts)
	}
	return out, nil
}

func parseRelation(s string) (Relation, error) {
	if i := strings.IndexAny(s, "[<"); i >= 0 && !strings.Contains(s[:i], "(") {
		s = strings.TrimSpace(s[:i])
	}
	name, rest, _ := strings.Cut(s, "(")
	name = strings.TrimSpace(name)
	name, _, _ = strings.Cut(name, ":")
	if name == "" {
		return Relation{}, fmt.Errorf("missing package name")
	}
	r := Relation{Name: name}
	if rest == "" {
		return r, nil
	}
	inner, _, ok := strings.Cut(rest, ")")
	if !ok {
		return Relation{}, fmt.Errorf("unclosed version constraint")
	}
	inner = strings.TrimSpace(inner)
	for _, op := range []string{"<<", "<=", ">=", ">>", "=", "<", ">"} {
		if strings.HasPrefix(inner, op) {
			r.Op, r.Version = op, strings.TrimSpace(inner[len(op):])
			break
		}
	}
	// "<" and ">" are obsolete spellings of "<=" and ">=" (deb-control(5)).
	switch r.Op {
	case "<":
		r.Op = "<="
	case ">":
		r.Op = ">="
	case "":
		return Relation{}, fmt.Errorf("unknown version operator in %q", inner)
	}
	if r.Version == "" {
		return Relation{}, fmt.Errorf("missing version in %q", inner)
	}
	return r, nil
}
