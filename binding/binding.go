package binding

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

// Root is where the platform provides bindings during detect and build
// (extensions/bindings.md, Detect and Build Phases: <platform>/bindings/<binding-name>).
const Root = "/platform/bindings"

// reserved are the CNB directories a volume must not cover or sit inside: the lifecycle
// owns them (platform.md, Build Phases), and anything placed in /workspace or /layers
// would be exported into the image. /platform/bindings is the one way in (see Volume).
var reserved = []string{"/cnb", "/layers", "/workspace", "/platform", "/proc", "/dev"}

// Volume is one pack-style --volume: a host file or directory bound at Container in the
// build sandbox, read-only unless ReadWrite (pack's default is read-only too).
type Volume struct {
	Host      string
	Container string
	ReadWrite bool
}

// ParseVolume reads HOST:CONTAINER[:ro|rw]. HOST must exist (a relative path is taken from
// the current directory); CONTAINER must be an absolute path that neither covers nor lies
// inside /cnb, /layers, /workspace or /platform — except <platform>/bindings and below,
// where pack users mount service bindings.
func ParseVolume(s string) (Volume, error) {
	parts := strings.Split(s, ":")
	var v Volume
	switch len(parts) {
	case 3:
		switch parts[2] {
		case "ro":
		case "rw":
			v.ReadWrite = true
		default:
			return Volume{}, fmt.Errorf("--volume %s: unknown option %q; use ro (the default) or rw", s, parts[2])
		}
	case 2:
	default:
		return Volume{}, fmt.Errorf("--volume %s: want HOST:CONTAINER[:ro|rw]", s)
	}
	if parts[0] == "" || parts[1] == "" {
		return Volume{}, fmt.Errorf("--volume %s: want HOST:CONTAINER[:ro|rw]", s)
	}
	host, err := filepath.Abs(parts[0])
	if err != nil {
		return Volume{}, fmt.Errorf("--volume %s: %w", s, err)
	}
	if _, err := os.Stat(host); err != nil {
		return Volume{}, fmt.Errorf("--volume %s: host path: %w", s, err)
	}
	v.Host = host
	c := parts[1]
	if !path.IsAbs(c) {
		return Volume{}, fmt.Errorf("--volume %s: container path %q must be absolute", s, c)
	}
	v.Container = path.Clean(c)
	if err := checkContainerPath(v.Container); err != nil {
		return Volume{}, fmt.Errorf("--volume %s: %w", s, err)
	}
	return v, nil
}

func checkContainerPath(c string) error {
	if c == "/" {
		return fmt.Errorf("mounting over / would hide the build image")
	}
	if c == Root || strings.HasPrefix(c, Root+"/") {
		return nil
	}
	for _, r := range reserved {
		switch {
		case c == r || strings.HasPrefix(c, r+"/"):
			return fmt.Errorf("%s is managed by the lifecycle (files there reach the build's inputs or the image); mount elsewhere, or under %s for a service binding", c, Root)
		case strings.HasPrefix(r, c+"/"):
			return fmt.Errorf("%s would hide the lifecycle's %s; mount elsewhere", c, r)
		}
	}
	return nil
}

// Binding is one service binding: a directory holding a `type` file and one file per
// entry (servicebinding.io, Workload Projection), provided at <platform>/bindings/<Name>.
type Binding struct {
	Name string
	Dir  string
}

// nameRe is the binding name syntax (extensions/bindings.md: [a-z0-9\-\.]{1,253}).
var nameRe = regexp.MustCompile(`^[a-z0-9\-.]{1,253}$`)

// Parse reads NAME=DIR (--binding) and checks that DIR is a binding.
func Parse(s string) (Binding, error) {
	name, dir, ok := strings.Cut(s, "=")
	if !ok || name == "" || dir == "" {
		return Binding{}, fmt.Errorf("--binding %s: want NAME=DIR (DIR holding a `type` file and one file per entry)", s)
	}
	if !nameRe.MatchString(name) || name == "." || name == ".." {
		return Binding{}, fmt.Errorf("--binding %s: name %q must be lower-case letters, digits, '-' and '.'", s, name)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Binding{}, fmt.Errorf("--binding %s: %w", s, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return Binding{}, fmt.Errorf("--binding %s: %w", s, err)
	}
	if !fi.IsDir() {
		return Binding{}, fmt.Errorf("--binding %s: %s is not a directory", s, abs)
	}
	if fi, err := os.Stat(filepath.Join(abs, "type")); err != nil || !fi.Mode().IsRegular() {
		return Binding{}, fmt.Errorf("--binding %s: %s has no `type` file; write the binding's type into it (e.g. `echo npmrc > %s`)", s, abs, filepath.Join(abs, "type"))
	}
	return Binding{Name: name, Dir: abs}, nil
}

// Volume is where the binding is bound in the sandbox: read-only at <platform>/bindings/<name>.
func (b Binding) Volume() Volume {
	return Volume{Host: b.Dir, Container: Root + "/" + b.Name}
}
