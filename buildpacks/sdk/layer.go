package sdk

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
)

// Layers is the buildpack's layers directory, <layers>/<escaped-id> (buildpack.md, Build).
type Layers struct {
	Path string
}

// LayerTypes are the [types] flags of <layer>.toml (buildpack.md, Layer Content Metadata (TOML); buildpack.md, Layer Types).
type LayerTypes struct {
	Launch bool `toml:"launch"`
	Build  bool `toml:"build"`
	Cache  bool `toml:"cache"`
}

// Layer is one layer directory and its <layer>.toml.
type Layer struct {
	Name string
	// Path is <layers>/<bp>/<name>.
	Path  string
	Types LayerTypes
	// Metadata is the free-form [metadata] table. After a rebuild it holds what the
	// lifecycle restored (buildpack.md, Layer Types; platform.md, Layer Restoration); [types] is never restored (buildpack.md, Layer Content Metadata (TOML)).
	Metadata map[string]any
}

type layerFile struct {
	Types    LayerTypes     `toml:"types"`
	Metadata map[string]any `toml:"metadata,omitempty"`
}

// Get returns the named layer with whatever metadata the lifecycle restored, and its types
// cleared: a buildpack must set them again to keep the layer (buildpack.md, Layer Content Metadata (TOML)). It does not
// create the directory.
func (l Layers) Get(name string) (*Layer, error) {
	switch name {
	case "build", "launch", "store", "":
		// Reserved names (buildpack.md, Layers).
		return nil, fmt.Errorf("layer name %q is reserved; pick another name", name)
	}
	lay := &Layer{Name: name, Path: filepath.Join(l.Path, name), Metadata: map[string]any{}}
	tomlPath := lay.Path + ".toml"
	if _, err := os.Stat(tomlPath); err == nil {
		var f layerFile
		if err := DecodeTOML(tomlPath, &f); err != nil {
			return nil, err
		}
		if f.Metadata != nil {
			lay.Metadata = f.Metadata
		}
	}
	return lay, nil
}

// Exists reports whether the layer's directory exists (restored from cache or left from the
// previous build).
func (lay *Layer) Exists() bool {
	fi, err := os.Stat(lay.Path)
	return err == nil && fi.IsDir()
}

// MetadataMatches reports whether the layer's restored metadata equals want, compared
// through their TOML forms (so int vs int64 does not matter), and the directory exists.
// It is how a buildpack decides to reuse a cached layer without redoing its work.
func (lay *Layer) MetadataMatches(want map[string]any) bool {
	if !lay.Exists() {
		return false
	}
	return reflect.DeepEqual(normalise(lay.Metadata), normalise(want))
}

func normalise(m map[string]any) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = fmt.Sprint(v)
	}
	return out
}

// Reset empties the layer directory (and drops its metadata) for a fresh contribution.
func (lay *Layer) Reset() error {
	if err := os.RemoveAll(lay.Path); err != nil {
		return fmt.Errorf("reset layer %s: %w", lay.Path, err)
	}
	if err := os.MkdirAll(lay.Path, 0o755); err != nil {
		return fmt.Errorf("reset layer %s: %w", lay.Path, err)
	}
	lay.Metadata = map[string]any{}
	return nil
}

// Write writes <layer>.toml atomically with the current types and metadata. A layer with
// every flag false is ignored by the lifecycle (buildpack.md, Ignored Layers).
func (lay *Layer) Write() error {
	if err := os.MkdirAll(lay.Path, 0o755); err != nil {
		return fmt.Errorf("create layer %s: %w", lay.Path, err)
	}
	return WriteTOML(lay.Path+".toml", layerFile{Types: lay.Types, Metadata: lay.Metadata})
}

// SharedEnv is <layer>/env: applied at build (for later buildpacks, when build=true) and at
// launch (when launch=true) (buildpack.md, Environment Variable Modification Rules).
func (lay *Layer) SharedEnv() EnvDir { return EnvDir{Path: filepath.Join(lay.Path, "env")} }

// BuildEnv is <layer>/env.build.
func (lay *Layer) BuildEnv() EnvDir { return EnvDir{Path: filepath.Join(lay.Path, "env.build")} }

// LaunchEnv is <layer>/env.launch.
func (lay *Layer) LaunchEnv() EnvDir { return EnvDir{Path: filepath.Join(lay.Path, "env.launch")} }

// ProcessEnv is <layer>/env.launch/<process>.
func (lay *Layer) ProcessEnv(process string) EnvDir {
	return EnvDir{Path: filepath.Join(lay.Path, "env.launch", process)}
}

// EnvDir is one env directory of a layer; each method writes one file whose name suffix is
// the operation (buildpack.md, Environment Variable Modification Rules). Values are written byte for byte: no newline is added,
// because the lifecycle never trims (buildpack.md, Environment Variable Modification Rules).
type EnvDir struct {
	Path string
}

// Override sets name to value.
func (d EnvDir) Override(name, value string) error { return d.write(name+".override", value) }

// Default sets name to value unless something set it already.
func (d EnvDir) Default(name, value string) error { return d.write(name+".default", value) }

// Prepend puts value before the current value of name, joined by delim.
func (d EnvDir) Prepend(name, value, delim string) error {
	if err := d.write(name+".delim", delim); err != nil {
		return err
	}
	return d.write(name+".prepend", value)
}

// Append puts value after the current value of name, joined by delim.
func (d EnvDir) Append(name, value, delim string) error {
	if err := d.write(name+".delim", delim); err != nil {
		return err
	}
	return d.write(name+".append", value)
}

func (d EnvDir) write(file, value string) error {
	return WriteFileAtomic(filepath.Join(d.Path, file), []byte(value), 0o644)
}
