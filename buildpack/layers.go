package buildpack

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/slipway/slipway/api"
	"github.com/slipway/slipway/launch"
	"github.com/slipway/slipway/tomlfile"
)

// LayerTypes is the [types] table of <layers>/<bp>/<layer>.toml (buildpack.md, Layer Content Metadata (TOML)).
// A missing flag means false.
type LayerTypes struct {
	Launch bool `toml:"launch"`
	Build  bool `toml:"build"`
	Cache  bool `toml:"cache"`
}

// None reports whether every flag is false: such a layer is renamed <layer>.ignore at the
// end of the buildpack's build (buildpack.md, Ignored Layers).
func (t LayerTypes) None() bool { return !t.Launch && !t.Build && !t.Cache }

// LayerMetadataFile is <layers>/<bp>/<layer>.toml (buildpack.md, Layer Content Metadata (TOML)). The exec-env key in
// Metadata is reserved (B0.12).
type LayerMetadataFile struct {
	Types    LayerTypes     `toml:"types"`
	Metadata map[string]any `toml:"metadata,omitempty"`
}

// layerTOMLFile is what is decoded, to catch flags written at the top level.
type layerTOMLFile struct {
	LayerMetadataFile
	Launch *bool `toml:"launch"`
	Build  *bool `toml:"build"`
	Cache  *bool `toml:"cache"`
}

// ReadLayerMetadataFile reads and validates one <layer>.toml. A file that does not exist
// yields the zero value and an error satisfying errors.Is(err, fs.ErrNotExist).
func ReadLayerMetadataFile(path string) (LayerMetadataFile, error) {
	var f layerTOMLFile
	if err := tomlfile.Read(path, &f); err != nil {
		return LayerMetadataFile{}, err
	}
	// Reference lifecycle: buildpack API ≥ 0.6 moved the flags under [types]; top-level flags are an error
	// rather than silently ignored (buildpack.md, Layer Content Metadata (TOML)).
	if f.Launch != nil || f.Build != nil || f.Cache != nil {
		return LayerMetadataFile{}, fmt.Errorf("%s: the launch, build and cache flags must be in the [types] table, not at the top level", path)
	}
	return f.LayerMetadataFile, nil
}

// Files in a buildpack's layers dir that are not layer metadata (buildpack.md, Layers).
var reservedLayerNames = map[string]bool{"build": true, "launch": true, "store": true}

// ValidateLayerName rejects names that cannot be layer directories: build, launch and store
// (they collide with build.toml, launch.toml and store.toml, buildpack.md, Layers), names that
// would leave the layers dir, and names starting with '.' (hidden, and SBOM files are matched
// to layers by file name, buildpack.md, Layers).
func ValidateLayerName(name string) error {
	switch {
	case name == "":
		return errors.New("layer name is empty")
	case reservedLayerNames[name]:
		return fmt.Errorf("layer name %q is reserved (build, launch and store are buildpack output files); rename the layer", name)
	case strings.ContainsAny(name, `/\`), strings.Contains(name, ".."):
		return fmt.Errorf("layer name %q must not contain '/', '\\' or '..'", name)
	case strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Errorf("layer name %q must not contain control characters", name)
	case strings.HasPrefix(name, "."):
		return fmt.Errorf("layer name %q must not start with '.'", name)
	}
	return nil
}

// Layer is one layer a buildpack declared by writing <layer>.toml.
type Layer struct {
	Name string
	// Path is <layers>/<bp>/<name>; the directory may be absent (buildpack.md, Launch Layers).
	Path string
	LayerMetadataFile
}

// ReadLayers reads every <layer>.toml in a buildpack's layers dir, sorted by name.
// Directories named build, launch or store are rejected (buildpack.md, Layers).
func ReadLayers(bpLayersDir string) ([]Layer, error) {
	ents, err := os.ReadDir(bpLayersDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read layers dir %s: %w", bpLayersDir, err)
	}
	var out []Layer
	for _, e := range ents {
		if e.IsDir() {
			if reservedLayerNames[e.Name()] {
				return nil, fmt.Errorf("layer %s: %w", filepath.Join(bpLayersDir, e.Name()), ValidateLayerName(e.Name()))
			}
			continue
		}
		name, ok := strings.CutSuffix(e.Name(), ".toml")
		if !ok || reservedLayerNames[name] {
			continue
		}
		path := filepath.Join(bpLayersDir, e.Name())
		if err := ValidateLayerName(name); err != nil {
			return nil, fmt.Errorf("layer %s: %w", path, err)
		}
		md, err := ReadLayerMetadataFile(path)
		if err != nil {
			return nil, err
		}
		out = append(out, Layer{Name: name, Path: filepath.Join(bpLayersDir, name), LayerMetadataFile: md})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// IgnoreUnusedLayers renames the directory of every layer with all flags false to
// <layer>.ignore (buildpack.md, Ignored Layers). As in the reference lifecycle only the directory is
// renamed: the <layer>.toml stays, and its all-false flags keep it out of image and cache.
func IgnoreUnusedLayers(layers []Layer) error {
	for _, l := range layers {
		if !l.Types.None() {
			continue
		}
		if err := os.Rename(l.Path, l.Path+".ignore"); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("rename unused layer %s: %w", l.Path, err)
		}
	}
	return nil
}

// ApplyLayerEnv adds the build=true layers of one buildpack to the build env of the
// buildpacks after it (buildpack.md, Provided by the Buildpacks): bin, lib, include and pkgconfig, then env/ and
// env.build/ where a file without suffix overrides. Layers are applied in ascending name
// order, each prepend on top of the previous, as the reference lifecycle does (buildpack.md, Provided by the Buildpacks).
func ApplyLayerEnv(env *launch.Env, layers []Layer) error {
	for _, l := range layers {
		if !l.Types.Build {
			continue
		}
		env.AddRootDir(l.Path)
		for _, sub := range []string{"env", "env.build"} {
			if err := env.AddEnvDir(filepath.Join(l.Path, sub), launch.Override); err != nil {
				return fmt.Errorf("apply env of layer %s: %w", l.Path, err)
			}
		}
	}
	return nil
}

// BuildTOML is <layers>/<bp>/build.toml (buildpack.md, Unmet Buildpack Plan Entries).
type BuildTOML struct {
	Unmet []Unmet `toml:"unmet"`
}

// Unmet names a plan entry the buildpack did not satisfy; it goes to the next provider.
type Unmet struct {
	Name string `toml:"name"`
}

// StoreTOML is <layers>/<bp>/store.toml: metadata a buildpack keeps across builds in the
// image label (platform.md, Layer Restoration). The builder leaves it in place for the exporter.
type StoreTOML struct {
	Metadata map[string]any `toml:"metadata"`
}

// ReadBuildTOML reads build.toml and checks that every unmet name is in plan
// (buildpack.md, Unmet Buildpack Plan Entries). A missing file means every entry was met.
func ReadBuildTOML(path string, plan BuildpackPlan) (BuildTOML, error) {
	var b BuildTOML
	if err := tomlfile.Read(path, &b); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return BuildTOML{}, nil
		}
		return BuildTOML{}, err
	}
	for i, u := range b.Unmet {
		if u.Name == "" {
			return BuildTOML{}, fmt.Errorf("%s: [[unmet]] entry %d has no name", path, i+1)
		}
		found := false
		for _, e := range plan.Entries {
			if e.Name == u.Name {
				found = true
				break
			}
		}
		if !found {
			return BuildTOML{}, fmt.Errorf("%s: [[unmet]] name %q is not in the buildpack plan; only planned entries can be unmet", path, u.Name)
		}
	}
	return b, nil
}

// LaunchTOML is <layers>/<bp>/launch.toml (buildpack.md, launch.toml (TOML); buildpack.md, Slice Layers).
type LaunchTOML struct {
	Processes []ProcessEntry `toml:"processes"`
	Labels    []launch.Label `toml:"labels"`
	Slices    []launch.Slice `toml:"slices"`
}

// ProcessEntry is one [[processes]] entry as a buildpack writes it.
type ProcessEntry struct {
	Type string `toml:"type"`
	// Command is a string for B < 0.9 and an array (executable first) for B ≥ 0.9.
	Command    any      `toml:"command"`
	Args       []string `toml:"args"`
	Direct     *bool    `toml:"direct"`
	Default    bool     `toml:"default"`
	WorkingDir string   `toml:"working-dir"`
	ExecEnv    []string `toml:"exec-env"`
}

// ReadLaunchTOML reads and validates launch.toml under the buildpack's API and converts its
// processes for metadata.toml. A missing file yields an empty LaunchTOML. Warnings are
// conditions the reference lifecycle tolerates with a warning.
func ReadLaunchTOML(path string, caps api.Buildpack, bpID string) (procs []launch.Process, lt LaunchTOML, warnings []string, err error) {
	if err := tomlfile.Read(path, &lt); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, LaunchTOML{}, nil, nil
		}
		return nil, LaunchTOML{}, nil, err
	}
	seen := map[string]bool{}
	defaultType := ""
	for i, p := range lt.Processes {
		where := fmt.Sprintf("%s: [[processes]] entry %d", path, i+1)
		if p.Type != "" {
			where = fmt.Sprintf("%s: process %q", path, p.Type)
		}
		switch {
		case p.Type == "":
			return nil, LaunchTOML{}, nil, fmt.Errorf("%s: type is required", where)
		case ValidateProcessType(p.Type) != nil:
			return nil, LaunchTOML{}, nil, fmt.Errorf("%s (buildpack %s): %w", where, bpID, ValidateProcessType(p.Type))
		case seen[p.Type]:
			return nil, LaunchTOML{}, nil, fmt.Errorf("%s: type is declared twice; process types must be unique per buildpack", where)
		}
		seen[p.Type] = true
		if p.Default {
			if defaultType != "" {
				return nil, LaunchTOML{}, nil, fmt.Errorf("%s: processes %q and %q are both default; at most one may be", path, defaultType, p.Type)
			}
			defaultType = p.Type
		}
		proc := launch.Process{
			Type:        p.Type,
			Args:        p.Args,
			Default:     p.Default,
			BuildpackID: bpID,
			WorkingDir:  p.WorkingDir,
		}
		if proc.Args == nil {
			proc.Args = []string{}
		}
		// buildpack.md, launch.toml (TOML): B ≥ 0.9 has array commands and no direct (always exec'd);
		// earlier APIs have a string command run by a shell unless direct = true.
		if caps.CommandArray {
			if p.Direct != nil {
				return nil, LaunchTOML{}, nil, fmt.Errorf("%s: direct is not allowed for Buildpack API %s (processes are always direct); remove it", where, caps.Version)
			}
			cmd, ok := stringArray(p.Command)
			if !ok || len(cmd) == 0 || cmd[0] == "" {
				return nil, LaunchTOML{}, nil, fmt.Errorf("%s: command must be a non-empty array of strings (executable first) for Buildpack API %s", where, caps.Version)
			}
			proc.Command = cmd
			proc.Direct = true
		} else {
			cmd, ok := p.Command.(string)
			if !ok || cmd == "" {
				return nil, LaunchTOML{}, nil, fmt.Errorf("%s: command must be a non-empty string for Buildpack API %s", where, caps.Version)
			}
			proc.Command = []string{cmd}
			proc.Direct = p.Direct != nil && *p.Direct
		}
		if p.WorkingDir != "" && !caps.WorkingDir {
			warnings = append(warnings, fmt.Sprintf("%s: working-dir needs Buildpack API 0.8; ignored", where))
			proc.WorkingDir = ""
		}
		if caps.ExecEnv {
			proc.ExecEnv = p.ExecEnv
		}
		procs = append(procs, proc)
	}
	for i, s := range lt.Slices {
		for _, g := range s.Paths {
			if _, err := filepath.Match(g, ""); err != nil {
				return nil, LaunchTOML{}, nil, fmt.Errorf("%s: slice %d: bad glob %q: %w", path, i+1, g, err)
			}
			if filepath.IsAbs(g) || g == ".." || strings.HasPrefix(filepath.Clean(g), "../") {
				return nil, LaunchTOML{}, nil, fmt.Errorf("%s: slice %d: glob %q must be relative to the app dir and stay inside it", path, i+1, g)
			}
		}
	}
	for i, l := range lt.Labels {
		if l.Key == "" {
			return nil, LaunchTOML{}, nil, fmt.Errorf("%s: [[labels]] entry %d has no key", path, i+1)
		}
	}
	return procs, lt, warnings, nil
}

func stringArray(v any) ([]string, bool) {
	items, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		s, ok := it.(string)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}
