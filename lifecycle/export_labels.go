package lifecycle

import "github.com/slipway/slipway/launch"

// LayersMetadata is the io.buildpacks.lifecycle.metadata label (platform.md, io.buildpacks.lifecycle.metadata (JSON)). Every sha
// is a layer diffID ("sha256:…").
type LayersMetadata struct {
	App          []LayerSHA                `json:"app"`
	SBOM         *LayerSHA                 `json:"sbom,omitempty"`
	Buildpacks   []BuildpackLayersMetadata `json:"buildpacks"`
	Config       LayerSHA                  `json:"config"`
	Launcher     LayerSHA                  `json:"launcher"`
	ProcessTypes LayerSHA                  `json:"process-types"`
	RunImage     RunImageForRebase         `json:"runImage"`
	// Stack duplicates RunImage for readers of the deprecated key; the lifecycle still writes
	// it (platform.md, io.buildpacks.lifecycle.metadata (JSON)).
	Stack *StackMetadata `json:"stack,omitempty"`
}

// LayerSHA names one layer by diffID.
type LayerSHA struct {
	SHA string `json:"sha"`
}

// BuildpackLayersMetadata is one buildpacks[] entry: its launch layers and store.toml.
type BuildpackLayersMetadata struct {
	ID      string                            `json:"key"`
	Version string                            `json:"version"`
	Layers  map[string]BuildpackLayerMetadata `json:"layers"`
	Store   *BuildpackStore                   `json:"store,omitempty"`
}

// BuildpackLayerMetadata is one layer: its diffID, the [metadata] of its TOML and its flags.
type BuildpackLayerMetadata struct {
	SHA    string         `json:"sha"`
	Data   map[string]any `json:"data"`
	Build  bool           `json:"build"`
	Launch bool           `json:"launch"`
	Cache  bool           `json:"cache"`
}

// BuildpackStore is <layers>/<bp>/store.toml, kept across builds in the label (platform.md, Layer Restoration).
type BuildpackStore struct {
	Metadata map[string]any `json:"metadata" toml:"metadata"`
}

// RunImageForRebase is runImage: the base the image sits on and where to find newer ones.
type RunImageForRebase struct {
	TopLayer  string   `json:"topLayer"`
	Reference string   `json:"reference"`
	Image     string   `json:"image,omitempty"`
	Mirrors   []string `json:"mirrors,omitempty"`
}

// StackMetadata is the deprecated stack key.
type StackMetadata struct {
	RunImage RunImageForExport `json:"runImage"`
}

// RunImageForExport is a run image name and its mirrors.
type RunImageForExport struct {
	Image   string   `json:"image"`
	Mirrors []string `json:"mirrors,omitempty"`
}

// BuildMetadata is the io.buildpacks.build.metadata label (platform.md, io.buildpacks.build.metadata (JSON)).
type BuildMetadata struct {
	BOM                         []any              `json:"bom"`
	Buildpacks                  []launch.Buildpack `json:"buildpacks"`
	Extensions                  []launch.Buildpack `json:"extensions,omitempty"`
	Launcher                    LauncherMetadata   `json:"launcher"`
	Processes                   []launch.Process   `json:"processes"`
	BuildpackDefaultProcessType string             `json:"buildpack-default-process-type,omitempty"`
}

// LauncherMetadata describes the launcher binary in the image.
type LauncherMetadata struct {
	Version string         `json:"version"`
	Source  LauncherSource `json:"source"`
}

// LauncherSource is where the launcher was built from.
type LauncherSource struct {
	Git GitSource `json:"git"`
}

// GitSource is a repository and commit.
type GitSource struct {
	Repository string `json:"repository"`
	Commit     string `json:"commit"`
}
