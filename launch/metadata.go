package launch

// Metadata is <layers>/config/metadata.toml, written by the builder and read by the launcher
// and the exporter (platform.md, builder).
type Metadata struct {
	Buildpacks                  []Buildpack `toml:"buildpacks" json:"buildpacks"`
	Extensions                  []Buildpack `toml:"extensions,omitempty" json:"extensions,omitempty"`
	Processes                   []Process   `toml:"processes" json:"processes"`
	Labels                      []Label     `toml:"labels,omitempty" json:"-"`
	Slices                      []Slice     `toml:"slices,omitempty" json:"-"`
	BOM                         []any       `toml:"bom,omitempty" json:"bom"`
	BuildpackDefaultProcessType string      `toml:"buildpack-default-process-type,omitempty" json:"buildpack-default-process-type,omitempty"`
}

// Buildpack is one member of the build group as recorded for launch.
type Buildpack struct {
	ID       string `toml:"id" json:"id"`
	Version  string `toml:"version" json:"version"`
	API      string `toml:"api" json:"-"`
	Homepage string `toml:"homepage,omitempty" json:"homepage,omitempty"`
}

// Process is one process type (buildpack.md, launch.toml (TOML)).
type Process struct {
	Type        string   `toml:"type" json:"type"`
	Command     []string `toml:"command" json:"command"`
	Args        []string `toml:"args" json:"args"`
	Direct      bool     `toml:"direct" json:"direct"`
	Default     bool     `toml:"default,omitempty" json:"default,omitempty"`
	BuildpackID string   `toml:"buildpack-id" json:"buildpackID"`
	WorkingDir  string   `toml:"working-dir,omitempty" json:"working-dir,omitempty"`
	ExecEnv     []string `toml:"exec-env,omitempty" json:"exec-env,omitempty"`
}

// Label is a buildpack-contributed image label (launch.toml [[labels]]).
type Label struct {
	Key   string `toml:"key"`
	Value string `toml:"value"`
}

// Slice is a launch.toml [[slices]] entry: globs relative to the app dir (buildpack.md, Slice Layers).
type Slice struct {
	Paths []string `toml:"paths"`
}
