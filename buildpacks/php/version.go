package php

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// Version is a PHP release, major.minor.patch.
type Version = sdk.Version

var versionRE = regexp.MustCompile(`^[vV]?(\d+)(?:\.(\d+|\*|x|X))?(?:\.(\d+|\*|x|X))?(?:\.(\d+|\*|x|X))?(?:[-+._]?[A-Za-z].*)?$`)

// partial is a version as written in a constraint: how many parts were given and
// whether the last one was a wildcard.
type partial struct {
	v        Version
	n        int // parts given (1–3, a fourth is ignored)
	wildcard bool
}

func parsePartial(s string) (partial, error) {
	m := versionRE.FindStringSubmatch(s)
	if m == nil {
		return partial{}, fmt.Errorf("%q is not a version", s)
	}
	var p partial
	for i, part := range m[1:4] {
		if part == "" {
			break
		}
		if part == "*" || part == "x" || part == "X" {
			p.wildcard = true
			break
		}
		n, err := strconv.Atoi(part)
		if err != nil {
			return partial{}, fmt.Errorf("%q is not a version", s)
		}
		p.v[i], p.n = n, i+1
	}
	return p, nil
}

// next is the smallest version above every version that starts with the first k parts of v.
func next(v Version, k int) Version {
	var out Version
	copy(out[:k], v[:k])
	if k > 0 {
		out[k-1]++
	}
	return out
}

type bound struct {
	op string // >=, >, <=, <, ==, !=
	v  Version
}

func (b bound) ok(v Version) bool {
	c := v.Compare(b.v)
	switch b.op {
	case ">=":
		return c >= 0
	case ">":
		return c > 0
	case "<=":
		return c <= 0
	case "<":
		return c < 0
	case "!=":
		return c != 0
	}
	return c == 0
}

// Constraint is a Composer version constraint (getcomposer.org/doc/articles/versions.md):
// alternatives joined by "||", each a set of conditions joined by space or comma.
type Constraint struct {
	Text   string
	Source string // where it was read, for messages
	any    [][]bound
}

var (
	orSplit   = regexp.MustCompile(`\s*\|\|?\s*`)
	hyphen    = regexp.MustCompile(`^(\S+)\s+-\s+(\S+)$`)
	andSplit  = regexp.MustCompile(`\s*,\s*|\s+`)
	opPrefix  = regexp.MustCompile(`^(>=|<=|<>|!=|==|>|<|=|\^|~)?\s*(.*)$`)
	stability = regexp.MustCompile(`@(?i:stable|rc|beta|alpha|dev)$`)
)

// ParseConstraint reads a Composer constraint: exact (8.2.1, =8.2.1), ranges (>=8.1 <8.4,
// 8.1 - 8.3), wildcards (8.*, 8.2.*), caret (^8.1), tilde (~8.1, ~8.1.2), alternatives
// (^8.1 || ^7.4); stability flags (@stable) are ignored.
func ParseConstraint(text, source string) (Constraint, error) {
	c := Constraint{Text: text, Source: source}
	for _, alt := range orSplit.Split(strings.TrimSpace(text), -1) {
		var all []bound
		if m := hyphen.FindStringSubmatch(alt); m != nil {
			lo, err1 := parsePartial(m[1])
			hi, err2 := parsePartial(m[2])
			if err1 != nil || err2 != nil {
				return c, fmt.Errorf("%s: %q: bad hyphen range", source, text)
			}
			all = append(all, bound{">=", lo.v})
			if hi.n == 3 && !hi.wildcard {
				all = append(all, bound{"<=", hi.v})
			} else {
				all = append(all, bound{"<", next(hi.v, max(hi.n, 1))})
			}
			c.any = append(c.any, all)
			continue
		}
		for _, cond := range andSplit.Split(alt, -1) {
			b, err := parseCondition(stability.ReplaceAllString(cond, ""))
			if err != nil {
				return c, fmt.Errorf("%s: %q: %v", source, text, err)
			}
			all = append(all, b...)
		}
		c.any = append(c.any, all)
	}
	return c, nil
}

func parseCondition(s string) ([]bound, error) {
	if s == "" || s == "*" || s == "x" {
		return nil, nil
	}
	m := opPrefix.FindStringSubmatch(s)
	op, rest := m[1], m[2]
	p, err := parsePartial(rest)
	if err != nil {
		return nil, err
	}
	if p.n == 0 { // "*" after an operator
		return nil, nil
	}
	switch op {
	case "^":
		// The first non-zero part must stay (^0.3 is >=0.3.0 <0.4.0).
		k := 1
		for k < p.n && p.v[k-1] == 0 {
			k++
		}
		return []bound{{">=", p.v}, {"<", next(p.v, k)}}, nil
	case "~":
		// The last part given may grow; with one part, like ^.
		k := max(p.n-1, 1)
		return []bound{{">=", p.v}, {"<", next(p.v, k)}}, nil
	case "", "=", "==":
		if p.wildcard {
			return []bound{{">=", p.v}, {"<", next(p.v, p.n)}}, nil
		}
		return []bound{{"==", p.v}}, nil
	case "!=", "<>":
		if p.wildcard {
			// Outside a range cannot be one condition of an all-of list; refuse it
			// rather than guess.
			return nil, fmt.Errorf("%q: a negated wildcard is not supported", s)
		}
		return []bound{{"!=", p.v}}, nil
	case "<":
		return []bound{{"<", p.v}}, nil
	case ">=":
		return []bound{{">=", p.v}}, nil
	case ">":
		if p.wildcard {
			return []bound{{">=", next(p.v, p.n)}}, nil
		}
		return []bound{{">", p.v}}, nil
	case "<=":
		if p.wildcard {
			return []bound{{"<", next(p.v, p.n)}}, nil
		}
		return []bound{{"<=", p.v}}, nil
	}
	return nil, fmt.Errorf("%q: unknown operator", s)
}

// Allows reports whether v satisfies the constraint.
func (c Constraint) Allows(v Version) bool {
	if len(c.any) == 0 {
		return true
	}
	for _, all := range c.any {
		ok := true
		for _, b := range all {
			if !b.ok(v) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// Newest is the newest of vs the constraint allows.
func (c Constraint) Newest(vs []Version) (Version, bool) {
	return sdk.Newest(vs, c.Allows)
}

// versionRequirement is the constraint the build honours: BP_PHP_VERSION ("8.2" means
// any 8.2.x, or any Composer constraint), else composer.json require.php, else any.
func versionRequirement(env string, m *Manifest) (Constraint, error) {
	if env != "" {
		text := env
		if p, err := parsePartial(env); err == nil && p.n < 3 && !p.wildcard && !strings.ContainsAny(env, "<>=^~|, ") {
			text = env + ".*"
		}
		return ParseConstraint(text, "BP_PHP_VERSION")
	}
	if r, ok := m.Require["php"]; ok {
		return ParseConstraint(r, "composer.json require.php")
	}
	return Constraint{Text: "*", Source: "default (the newest available)"}, nil
}
