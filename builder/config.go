package builder

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/slipway/slipway/buildpack"
	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/tomlfile"
)

// Config is a builder.toml in the format of pack's `builder create --config`
// (docs/spec-notes.md, Builder image; docs/spec-notes.md, Builder labels). ReadConfig folds the legacy [stack] table into Build and Run.
type Config struct {
	Description string            `toml:"description"`
	Buildpacks  []BuildpackConfig `toml:"buildpacks"`
	Order       buildpack.Order   `toml:"order"`
	Build       BuildConfig       `toml:"build"`
	Run         RunConfig         `toml:"run"`
	// Stack is the legacy [stack] table, kept as read; Build.Image and Run.Images already
	// hold its values.
	Stack StackConfig `toml:"stack"`
	// Lifecycle is read and ignored: Slipway is its own lifecycle.
	Lifecycle LifecycleConfig    `toml:"lifecycle"`
	Targets   []buildpack.Target `toml:"targets"`
	System    buildpack.System   `toml:"system"`
	// FetchCacheDir keeps buildpacks fetched by URL (http(s) archives, git); empty means
	// DefaultFetchCacheDir. Not part of the file.
	FetchCacheDir string `toml:"-"`

	// Path is the file read; Dir is its directory, against which relative uris resolve.
	Path string `toml:"-"`
	Dir  string `toml:"-"`
}

// BuildpackConfig is one [[buildpacks]] entry: where to get a buildpack, and optionally
// the id and version it must have.
type BuildpackConfig struct {
	ID      string `toml:"id"`
	Version string `toml:"version"`
	// URI is a directory, a .tgz/.tar archive, or file:// URL; relative paths resolve against
	// the builder.toml's directory.
	URI string `toml:"uri"`
	// Image is a buildpackage image reference (not supported yet).
	Image string `toml:"image"`

	// Informational keys pack accepts here; read so that they are not reported as unknown.
	Name        string              `toml:"name"`
	Description string              `toml:"description"`
	Homepage    string              `toml:"homepage"`
	Keywords    []string            `toml:"keywords"`
	Licenses    []buildpack.License `toml:"licenses"`
	ClearEnv    bool                `toml:"clear-env"`
	ExecEnv     []string            `toml:"exec-env"`
}

// BuildConfig is [build]: the build image and the builder's build-time env
// (written to /cnb/build-config/env, docs/spec-notes.md, Builder image).
type BuildConfig struct {
	Image string     `toml:"image"`
	Env   []BuildEnv `toml:"env"`
}

// BuildEnv is one [[build.env]] entry; Suffix is one of "", default, override, append,
// prepend (the env-file suffixes, buildpack.md, Environment).
type BuildEnv struct {
	Name   string `toml:"name"`
	Value  string `toml:"value"`
	Suffix string `toml:"suffix"`
	Delim  string `toml:"delim"`
}

// RunConfig is [run]: the run images, the first being the default.
type RunConfig struct {
	Images []platform.RunImage `toml:"images"`
}

// StackConfig is the legacy [stack] table.
type StackConfig struct {
	ID              string   `toml:"id"`
	BuildImage      string   `toml:"build-image"`
	RunImage        string   `toml:"run-image"`
	RunImageMirrors []string `toml:"run-image-mirrors"`
}

// LifecycleConfig is [lifecycle]; ignored.
type LifecycleConfig struct {
	Version string `toml:"version"`
	URI     string `toml:"uri"`
}

// ReadConfig reads and validates the builder.toml at path. TOML errors carry the file and
// line/column; validation errors name the file and the field to fix.
func ReadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read builder config %s: %w", path, err)
	}
	var c Config
	md, err := tomlfile.Decode(b, path, &c)
	if err != nil {
		return nil, err
	}
	// Image extensions are valid in pack's format but Slipway cannot run them yet; failing
	// here beats building without them.
	for _, k := range []string{"extensions", "order-extensions"} {
		if md.IsDefined(k) {
			return nil, fmt.Errorf("%s: [[%s]]: image extensions are not supported yet; remove them to build with buildpacks only", path, k)
		}
	}
	// pack rejects unknown keys, which catches typos such as [[order.groups]].
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		sort.Strings(keys)
		return nil, fmt.Errorf("%s: unknown keys %s", path, strings.Join(keys, ", "))
	}
	c.Path = path
	c.Dir = filepath.Dir(path)
	if err := c.mergeStack(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &c, nil
}

// mergeStack maps the legacy [stack] onto [build] image and [[run.images]] (pack does the
// same, RFC 0096), rejecting the two when they disagree.
func (c *Config) mergeStack() error {
	s := c.Stack
	switch {
	case c.Build.Image == "":
		c.Build.Image = s.BuildImage
	case s.BuildImage != "" && s.BuildImage != c.Build.Image:
		return fmt.Errorf("[build] image %q and [stack] build-image %q differ; keep one", c.Build.Image, s.BuildImage)
	}
	switch {
	case len(c.Run.Images) == 0 && s.RunImage != "":
		c.Run.Images = []platform.RunImage{{Image: s.RunImage, Mirrors: s.RunImageMirrors}}
	case s.RunImage != "" && len(c.Run.Images) > 0 && c.Run.Images[0].Image != s.RunImage:
		return fmt.Errorf("[[run.images]] first image %q and [stack] run-image %q differ; keep one", c.Run.Images[0].Image, s.RunImage)
	}
	return nil
}

var envSuffixes = map[string]bool{"": true, "default": true, "override": true, "append": true, "prepend": true}

func (c *Config) validate() error {
	if c.Build.Image == "" {
		return errors.New("no build image: set [build] image")
	}
	if len(c.Run.Images) == 0 {
		return errors.New("no run image: add [[run.images]] image = \"…\"")
	}
	for i, r := range c.Run.Images {
		if r.Image == "" {
			return fmt.Errorf("[[run.images]] entry %d: set image", i+1)
		}
	}
	for i, bp := range c.Buildpacks {
		if bp.URI == "" && bp.Image == "" {
			return fmt.Errorf("[[buildpacks]] entry %d (%s): set uri", i+1, bpName(bp))
		}
		if bp.URI != "" && bp.Image != "" {
			return fmt.Errorf("[[buildpacks]] entry %d (%s): set uri or image, not both", i+1, bpName(bp))
		}
	}
	// pack only warns about an empty order; without one, detection has nothing to try, so
	// Slipway fails early instead.
	if len(c.Order) == 0 {
		return errors.New("no [[order]]: add [[order]] with [[order.group]] entries naming buildpacks")
	}
	for i, g := range c.Order {
		if len(g.Group) == 0 {
			return fmt.Errorf("[[order]] entry %d: empty group; add [[order.group]] entries", i+1)
		}
		for j, e := range g.Group {
			if e.ID == "" {
				return fmt.Errorf("[[order]] entry %d, [[order.group]] entry %d: set id", i+1, j+1)
			}
		}
	}
	for i, e := range c.Build.Env {
		switch {
		case e.Name == "":
			return fmt.Errorf("[[build.env]] entry %d: set name", i+1)
		case strings.ContainsAny(e.Name, "=/\x00.") || e.Name == "..":
			return fmt.Errorf("[[build.env]] entry %d: name %q may not contain '=', '/', '.' or NUL", i+1, e.Name)
		case !envSuffixes[e.Suffix]:
			return fmt.Errorf("[[build.env]] entry %d (%s): unknown suffix %q; use default, override, append or prepend", i+1, e.Name, e.Suffix)
		}
	}
	return nil
}

func bpName(bp BuildpackConfig) string {
	switch {
	case bp.ID != "" && bp.Version != "":
		return bp.ID + "@" + bp.Version
	case bp.ID != "":
		return bp.ID
	case bp.URI != "":
		return bp.URI
	default:
		return bp.Image
	}
}
