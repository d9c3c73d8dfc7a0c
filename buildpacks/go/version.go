package golang

import (
	"fmt"
	"go/version"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/mod/modfile"
)

// GoMod is what the buildpack reads from go.mod.
type GoMod struct {
	Module    string // module path
	Go        string // the go line, "go1.26" form; "" when absent
	Toolchain string // the toolchain line, "go1.26.8" form; "" when absent or "default"
}

// ReadGoMod reads <app>/go.mod; a missing file gives nil and no error.
func ReadGoMod(appDir string) (*GoMod, error) {
	path := filepath.Join(appDir, "go.mod")
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	f, err := modfile.Parse("go.mod", b, nil)
	if err != nil {
		return nil, fmt.Errorf("parse go.mod: %w", err)
	}
	m := &GoMod{}
	if f.Module != nil {
		m.Module = f.Module.Mod.Path
	}
	if f.Go != nil {
		m.Go = "go" + f.Go.Version
	}
	if f.Toolchain != nil && f.Toolchain.Name != "default" {
		// The toolchain line names a toolchain ("go1.26.8", optionally with a "+suffix"
		// for a custom build); the version is what precedes the suffix.
		name, _, _ := strings.Cut(f.Toolchain.Name, "+")
		if !version.IsValid(name) {
			return nil, fmt.Errorf("go.mod: toolchain %q is not a Go toolchain name such as go1.26.8", f.Toolchain.Name)
		}
		m.Toolchain = name
	}
	return m, nil
}

// Requirement is what decides the Go version, and where it was written.
type Requirement struct {
	// From names the setting for messages: "BP_GO_VERSION", "go.mod toolchain line",
	// "go.mod go line" or "default".
	From string
	// Exact is a toolchain that must be used as named ("go1.26.8").
	Exact string
	// Minimum is the oldest acceptable version ("go1.26", "go1.26.3"); the newest release of
	// its language version is preferred.
	Minimum string
}

func (r Requirement) String() string {
	switch {
	case r.Exact != "":
		return fmt.Sprintf("%s %s", r.From, strings.TrimPrefix(r.Exact, "go"))
	case r.Minimum != "":
		return fmt.Sprintf("%s %s", r.From, strings.TrimPrefix(r.Minimum, "go"))
	}
	return "newest stable (no go.mod version and no BP_GO_VERSION)"
}

// FindRequirement applies the go command's own rule (the toolchain line when it is at
// least the go line, else the go line as a minimum), with BP_GO_VERSION first.
func FindRequirement(setting string, mod *GoMod) (Requirement, error) {
	if setting != "" && setting != "latest" && setting != "stable" {
		v := "go" + strings.TrimPrefix(setting, "go")
		for _, wild := range []string{".x", ".*"} {
			if strings.HasSuffix(v, wild) {
				v = strings.TrimSuffix(v, wild)
				if !version.IsValid(v) || version.Lang(v) != v {
					return Requirement{}, fmt.Errorf("BP_GO_VERSION=%q: use a release (1.26.8), a language version (1.26, 1.26.x) or \"latest\"", setting)
				}
				return Requirement{From: "BP_GO_VERSION", Minimum: v}, nil
			}
		}
		if !version.IsValid(v) {
			return Requirement{}, fmt.Errorf("BP_GO_VERSION=%q: use a release (1.26.8), a language version (1.26, 1.26.x) or \"latest\"", setting)
		}
		if version.Lang(v) == v {
			return Requirement{From: "BP_GO_VERSION", Minimum: v}, nil
		}
		return Requirement{From: "BP_GO_VERSION", Exact: v}, nil
	}
	if setting != "" || mod == nil {
		return Requirement{From: "default"}, nil
	}
	if mod.Toolchain != "" && (mod.Go == "" || version.Compare(mod.Toolchain, mod.Go) >= 0) {
		return Requirement{From: "go.mod toolchain line", Exact: mod.Toolchain}, nil
	}
	if mod.Go != "" {
		return Requirement{From: "go.mod go line", Minimum: mod.Go}, nil
	}
	return Requirement{From: "default"}, nil
}

// Satisfies reports whether toolchain v meets the requirement.
func (r Requirement) Satisfies(v string) bool {
	switch {
	case r.Exact != "":
		return v == r.Exact
	case r.Minimum != "":
		return version.Compare(v, r.Minimum) >= 0
	}
	return true
}

// Resolve picks the toolchain for req among available ("go1.26.8" names): the exact one;
// for a minimum, the newest stable release of the same language version, else the
// newest release at least that new; by default the newest stable release.
func Resolve(req Requirement, available []string) (string, error) {
	var ok []string
	for _, v := range available {
		if version.IsValid(v) && req.Satisfies(v) {
			ok = append(ok, v)
		}
	}
	sort.Slice(ok, func(i, j int) bool { return version.Compare(ok[i], ok[j]) > 0 })
	stable := func(vs []string, lang string) string {
		for _, v := range vs {
			if isStable(v) && (lang == "" || version.Lang(v) == lang) {
				return v
			}
		}
		return ""
	}
	if req.Minimum != "" {
		if v := stable(ok, version.Lang(req.Minimum)); v != "" {
			return v, nil
		}
	}
	if v := stable(ok, ""); v != "" {
		return v, nil
	}
	if len(ok) > 0 && (req.Exact != "" || !isStable(req.Minimum)) {
		return ok[0], nil
	}
	return "", &NoVersionError{Req: req, Available: available}
}

// isStable reports whether v is a release, not a release candidate or beta.
func isStable(v string) bool {
	return version.IsValid(v) && !strings.Contains(v, "rc") && !strings.Contains(v, "beta")
}

// NoVersionError says no available toolchain meets the requirement; it lists what there is.
type NoVersionError struct {
	Req       Requirement
	Source    string
	Available []string
}

func (e *NoVersionError) Error() string {
	src := ""
	if e.Source != "" {
		src = " from " + e.Source
	}
	return fmt.Sprintf("no Go toolchain%s matches %s; available: %s (set BP_GO_VERSION or change go.mod)", src, e.Req, summarize(e.Available))
}

// summarize lists the newest release of each of the newest language versions, newest
// first, so an error message stays short.
func summarize(vs []string) string {
	newest := map[string]string{}
	for _, v := range vs {
		if !isStable(v) {
			continue
		}
		l := version.Lang(v)
		if cur, ok := newest[l]; !ok || version.Compare(v, cur) > 0 {
			newest[l] = v
		}
	}
	var out []string
	for _, v := range newest {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return version.Compare(out[i], out[j]) > 0 })
	if len(out) == 0 {
		return "none"
	}
	more := ""
	if len(out) > 8 {
		out, more = out[:8], ", …"
	}
	for i := range out {
		out[i] = strings.TrimPrefix(out[i], "go")
	}
	return strings.Join(out, ", ") + more
}
