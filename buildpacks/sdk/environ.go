package sdk

import (
	"os"
	"path/filepath"
	"strings"
)

// Environ is a read-only view of a process environment. Buildpacks read user
// configuration from it: the lifecycle turns <platform>/env/<NAME> files into variables
// unless clear-env is set (platform.md, User-Provided Variables; buildpack.md, buildpack.toml (TOML), clear-env).
type Environ map[string]string

// NewEnviron parses KEY=VALUE pairs; later pairs win.
func NewEnviron(kv []string) Environ {
	e := Environ{}
	for _, s := range kv {
		if k, v, ok := strings.Cut(s, "="); ok {
			e[k] = v
		}
	}
	return e
}

// Get returns the value of name, or "".
func (e Environ) Get(name string) string { return e[name] }

// Lookup returns the value of name and whether it is set.
func (e Environ) Lookup(name string) (string, bool) {
	v, ok := e[name]
	return v, ok
}

// List returns KEY=VALUE pairs with overrides applied (for exec.Cmd.Env).
func (e Environ) List(overrides ...string) []string {
	m := make(map[string]string, len(e)+len(overrides))
	for k, v := range e {
		m[k] = v
	}
	for _, s := range overrides {
		if k, v, ok := strings.Cut(s, "="); ok {
			m[k] = v
		}
	}
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

// Config returns a setting by name: the process environment first, then the file
// <platform>/env/<name> (so a buildpack with clear-env=true still sees user settings,
// buildpack.md, buildpack.toml (TOML), clear-env), then def. Values are used as given, without trimming, except that a
// trailing newline of a platform env file is dropped because editors add one.
func (e Environ) Config(platformDir, name, def string) string {
	if v, ok := e[name]; ok && v != "" {
		return v
	}
	if platformDir != "" {
		if b, err := os.ReadFile(filepath.Join(platformDir, "env", name)); err == nil {
			return strings.TrimSuffix(string(b), "\n")
		}
	}
	return def
}

// Binding is one service binding under <platform>/bindings/<name>/ (servicebinding.io, the
// successor of the CNB bindings extension, extensions/buildpack-registry.md): a type and a set of entries.
type Binding struct {
	Name, Path, Type string
}

// Entry returns the content of the binding's file key, or "" when it is absent.
func (b Binding) Entry(key string) string {
	v, err := os.ReadFile(filepath.Join(b.Path, key))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(v))
}

// Bindings lists the bindings of the given type (case-insensitive) from
// $SERVICE_BINDING_ROOT, else <platform>/bindings.
func (e Environ) Bindings(platformDir, typ string) []Binding {
	root := e.Get("SERVICE_BINDING_ROOT")
	if root == "" {
		root = filepath.Join(platformDir, "bindings")
	}
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil
	}
	var out []Binding
	for _, d := range ents {
		b := Binding{Name: d.Name(), Path: filepath.Join(root, d.Name())}
		b.Type = b.Entry("type")
		if strings.EqualFold(b.Type, typ) {
			out = append(out, b)
		}
	}
	return out
}
