package platform

import "github.com/slipway/slipway/buildpack"

// Canonical paths inside the build and run containers (platform.md, Usage (default locations)). Images always
// use these paths, never host paths: buildpacks bake absolute paths into layers.
const (
	LayersDir      = "/layers"
	AppDir         = "/workspace"
	PlatformDir    = "/platform"
	CNBDir         = "/cnb"
	BuildpacksDir  = "/cnb/buildpacks"
	BuildConfigDir = "/cnb/build-config"
	LifecycleDir   = "/cnb/lifecycle"
	LauncherPath   = "/cnb/lifecycle/launcher"
	ProcessDir     = "/cnb/process"
)

// RunImage is one [[images]] entry of run.toml.
type RunImage struct {
	Image   string   `toml:"image" json:"image"`
	Mirrors []string `toml:"mirrors,omitempty" json:"mirrors,omitempty"`
}

// RunFile is run.toml (platform.md, Files).
type RunFile struct {
	Images []RunImage `toml:"images"`
}

// TargetMetadata is the [target] of analyzed.toml. The lifecycle spells the variant
// arch-variant (platform.md, Files; docs/spec-notes.md, analyzed.toml).
type TargetMetadata struct {
	ID          string        `toml:"id,omitempty" json:"id,omitempty"`
	OS          string        `toml:"os" json:"os"`
	Arch        string        `toml:"arch" json:"arch"`
	ArchVariant string        `toml:"arch-variant,omitempty" json:"arch-variant,omitempty"`
	Distro      *TargetDistro `toml:"distro,omitempty" json:"distro,omitempty"`
}

// TargetDistro is [target.distro].
type TargetDistro struct {
	Name    string `toml:"name" json:"name"`
	Version string `toml:"version" json:"version"`
}

// Target converts to the buildpack package's matching form.
func (t TargetMetadata) Target() buildpack.Target {
	bt := buildpack.Target{OS: t.OS, Arch: t.Arch, Variant: t.ArchVariant}
	if t.Distro != nil {
		bt.Distros = []buildpack.Distro{{Name: t.Distro.Name, Version: t.Distro.Version}}
	}
	return bt
}

// ProjectMetadata is project-metadata.toml and the io.buildpacks.project.metadata label.
type ProjectMetadata struct {
	Source *ProjectSource `toml:"source,omitempty" json:"source,omitempty"`
}

// ProjectSource is [source].
type ProjectSource struct {
	Type     string         `toml:"type" json:"type"`
	Version  map[string]any `toml:"version,omitempty" json:"version,omitempty"`
	Metadata map[string]any `toml:"metadata,omitempty" json:"metadata,omitempty"`
}

// Report is report.toml (platform.md, Files).
type Report struct {
	Image ImageReport `toml:"image"`
}

// ImageReport is [image] of report.toml.
type ImageReport struct {
	Tags         []string `toml:"tags"`
	Digest       string   `toml:"digest,omitempty"`
	ImageID      string   `toml:"image-id,omitempty"`
	ManifestSize int64    `toml:"manifest-size,omitempty"`
}

// Analyzed is analyzed.toml (platform.md, analyzer; platform.md, Files), written by the analyze step on the
// host and read by the detector and builder inside the sandbox for the run-image target.
type Analyzed struct {
	PreviousImage *ImageIdentifier `toml:"image,omitempty"`
	// Metadata is the previous image's io.buildpacks.lifecycle.metadata label as a TOML table
	// (lifecycle.MetadataTable, lifecycle.PreviousMetadata).
	Metadata   map[string]any   `toml:"metadata,omitempty"`
	RunImage   *AnalyzedRun     `toml:"run-image,omitempty"`
	BuildImage *ImageIdentifier `toml:"build-image,omitempty"`
}

// ImageIdentifier is a [image]/[build-image] reference.
type ImageIdentifier struct {
	Reference string `toml:"reference"`
}

// AnalyzedRun is [run-image].
type AnalyzedRun struct {
	Reference string          `toml:"reference"`
	Image     string          `toml:"image,omitempty"`
	Extend    bool            `toml:"extend,omitempty"`
	Target    *TargetMetadata `toml:"target,omitempty"`
}

// OrderFile is order.toml (platform.md, order.toml (TOML)).
type OrderFile struct {
	Order           buildpack.Order `toml:"order"`
	OrderExtensions buildpack.Order `toml:"order-extensions,omitempty"`
}

// GroupFile is group.toml, the detector's output (platform.md, group.toml (TOML)).
type GroupFile struct {
	Group           []buildpack.GroupElement `toml:"group"`
	GroupExtensions []buildpack.GroupElement `toml:"group-extensions,omitempty"`
}

// PlanFile is plan.toml, the resolved build plan (platform.md, plan.toml (TOML)).
type PlanFile struct {
	Entries []buildpack.PlanEntry `toml:"entries"`
}

// SystemFile is system.toml (platform.md, system.toml (TOML)): buildpacks the platform adds
// before and after every group of the order (Platform API 0.15).
type SystemFile struct {
	System buildpack.System `toml:"system"`
}
