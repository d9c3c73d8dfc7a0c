package launch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Env is an environment under assembly, with the CNB env-file semantics of buildpack.md, Environment Variable Modification Rules.
// It is shared by the build phase (build env) and the launcher (launch env); its zero value
// is not usable, build one with NewEnv.
type Env struct {
	vars map[string]string
	// rootDirs maps a layer sub-directory (bin, lib, …) to the variables it is prepended to.
	rootDirs map[string][]string
}

// BuildRootDirs are the layer sub-directories that extend the build env (buildpack.md, Provided by the Buildpacks).
var BuildRootDirs = map[string][]string{
	"bin":       {"PATH"},
	"lib":       {"LD_LIBRARY_PATH", "LIBRARY_PATH"},
	"include":   {"CPATH"},
	"pkgconfig": {"PKG_CONFIG_PATH"},
}

// LaunchRootDirs are the layer sub-directories that extend the launch env (buildpack.md, Launch (environment)).
var LaunchRootDirs = map[string][]string{
	"bin": {"PATH"},
	"lib": {"LD_LIBRARY_PATH"},
}

// BuildEnvIncludeList is the only part of the platform's own environment that reaches
// buildpacks, besides the path variables of BuildRootDirs (docs/spec-notes.md, Build environment).
var BuildEnvIncludeList = []string{
	"CNB_STACK_ID", "HOSTNAME", "HOME",
	"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy",
}

// Action is what an env file does to its variable (buildpack.md, Environment Variable Modification Rules).
type Action string

const (
	Override Action = "override"
	Default  Action = "default"
	Prepend  Action = "prepend"
	Append   Action = "append"
)

// NewEnv starts from environ (KEY=VALUE entries). When include is non-nil only those names,
// plus every variable named in rootDirs, are kept.
func NewEnv(environ []string, rootDirs map[string][]string, include []string) *Env {
	keep := map[string]bool{}
	for _, k := range include {
		keep[k] = true
	}
	for _, vs := range rootDirs {
		for _, v := range vs {
			keep[v] = true
		}
	}
	e := &Env{vars: map[string]string{}, rootDirs: rootDirs}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || (include != nil && !keep[k]) {
			continue
		}
		e.vars[k] = v
	}
	return e
}

// Get returns the value of key.
func (e *Env) Get(key string) string { return e.vars[key] }

// Lookup returns the value of key and whether it is set.
func (e *Env) Lookup(key string) (string, bool) { v, ok := e.vars[key]; return v, ok }

// Set sets key to value.
func (e *Env) Set(key, value string) { e.vars[key] = value }

// Unset removes key.
func (e *Env) Unset(key string) { delete(e.vars, key) }

// List returns KEY=VALUE entries sorted by key, ready for exec.
func (e *Env) List() []string {
	out := make([]string, 0, len(e.vars))
	for k, v := range e.vars {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// Clone returns an independent copy.
func (e *Env) Clone() *Env {
	c := &Env{vars: make(map[string]string, len(e.vars)), rootDirs: e.rootDirs}
	for k, v := range e.vars {
		c.vars[k] = v
	}
	return c
}

// PrependPath prepends value to the path-list variable key.
func (e *Env) PrependPath(key, value string) {
	if old, ok := e.vars[key]; ok && old != "" {
		value = value + string(os.PathListSeparator) + old
	}
	e.vars[key] = value
}

// AddRootDir prepends dir/bin, dir/lib, … (those that exist) to their variables.
func (e *Env) AddRootDir(dir string) {
	subs := make([]string, 0, len(e.rootDirs))
	for s := range e.rootDirs {
		subs = append(subs, s)
	}
	sort.Strings(subs)
	for _, s := range subs {
		p := filepath.Join(dir, s)
		if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
			continue
		}
		for _, key := range e.rootDirs[s] {
			e.PrependPath(key, p)
		}
	}
}

// AddEnvDir applies every env file in dir (buildpack.md, Environment Variable Modification Rules). A file with no suffix does
// noSuffix (Override for buildpack layers, Default for operator env). Sub-directories are
// skipped (env.launch/<process> is applied separately). A missing dir is not an error.
func (e *Env) AddEnvDir(dir string, noSuffix Action) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read env dir %s: %w", dir, err)
	}
	for _, ent := range entries {
		if ent.IsDir() {
			continue
		}
		name, suffix, _ := strings.Cut(ent.Name(), ".")
		var action Action
		switch suffix {
		case "":
			action = noSuffix
		case "override", "default", "prepend", "append":
			action = Action(suffix)
		default: // .delim and unknown suffixes are not operations
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, ent.Name()))
		if err != nil {
			return fmt.Errorf("read env file %s: %w", filepath.Join(dir, ent.Name()), err)
		}
		// Contents are used byte for byte: never trimmed (buildpack.md, Environment Variable Modification Rules).
		value := string(b)
		delim := ""
		if d, err := os.ReadFile(filepath.Join(dir, name+".delim")); err == nil {
			delim = string(d)
		}
		e.apply(name, value, action, delim)
	}
	return nil
}

func (e *Env) apply(name, value string, action Action, delim string) {
	old, ok := e.vars[name]
	switch action {
	case Override:
		e.vars[name] = value
	case Default:
		if !ok {
			e.vars[name] = value
		}
	case Prepend:
		if ok && old != "" {
			value = value + delim + old
		}
		e.vars[name] = value
	case Append:
		if ok && old != "" {
			value = old + delim + value
		}
		e.vars[name] = value
	}
}

// AddPlatformEnv applies the user env in <platform>/env: one variable per file, contents
// byte for byte; path variables are prepended with ':' and any other variable overrides
// (platform.md, User-Provided Variables).
func (e *Env) AddPlatformEnv(platformDir string) error {
	dir := filepath.Join(platformDir, "env")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read platform env %s: %w", dir, err)
	}
	isPath := map[string]bool{}
	for _, vs := range BuildRootDirs {
		for _, v := range vs {
			isPath[v] = true
		}
	}
	for _, ent := range entries {
		if ent.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, ent.Name()))
		if err != nil {
			return fmt.Errorf("read platform env file %s: %w", filepath.Join(dir, ent.Name()), err)
		}
		if isPath[ent.Name()] {
			e.PrependPath(ent.Name(), string(b))
		} else {
			e.vars[ent.Name()] = string(b)
		}
	}
	return nil
}
