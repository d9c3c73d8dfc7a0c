package sdk

// Process is one [[processes]] entry of launch.toml (buildpack.md, launch.toml (TOML)). Command is an array
// (B ≥ 0.9); Args are defaults the user may replace.
type Process struct {
	Type             string   `toml:"type"`
	Command          []string `toml:"command"`
	Args             []string `toml:"args,omitempty"`
	Default          bool     `toml:"default,omitempty"`
	WorkingDirectory string   `toml:"working-dir,omitempty"`
	ExecEnv          []string `toml:"exec-env,omitempty"`
}

// Label is one [[labels]] entry of launch.toml (buildpack.md, Slice Layers).
type Label struct {
	Key   string `toml:"key"`
	Value string `toml:"value"`
}

// Slice is one [[slices]] entry of launch.toml (buildpack.md, Slice Layers).
type Slice struct {
	Paths []string `toml:"paths"`
}

// Launch is launch.toml.
type Launch struct {
	Processes []Process `toml:"processes,omitempty"`
	Labels    []Label   `toml:"labels,omitempty"`
	Slices    []Slice   `toml:"slices,omitempty"`
}

// IsEmpty reports whether there is nothing to write.
func (l Launch) IsEmpty() bool {
	return len(l.Processes) == 0 && len(l.Labels) == 0 && len(l.Slices) == 0
}

// Unmet is one [[unmet]] entry of build.toml (buildpack.md, Unmet Buildpack Plan Entries).
type Unmet struct {
	Name string `toml:"name"`
}

// Build is build.toml.
type Build struct {
	Unmet []Unmet `toml:"unmet,omitempty"`
}
