package builder

import (
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipway/slipway/buildpack"
	"github.com/slipway/slipway/platform"
)

// Metadata is the io.buildpacks.builder.metadata label (docs/spec-notes.md, Builder labels; pack
// internal/builder/metadata.go).
type Metadata struct {
	Description string `json:"description"`
	// Buildpacks lists every buildpack in the builder, top-level and nested alike.
	Buildpacks []ModuleInfo `json:"buildpacks"`
	Extensions []ModuleInfo `json:"extensions,omitempty"`
	// Stack is the deprecated single run image; Images supersedes it (Platform 0.12).
	Stack     StackMetadata       `json:"stack"`
	Images    []platform.RunImage `json:"images,omitempty"`
	Lifecycle LifecycleMetadata   `json:"lifecycle"`
	CreatedBy CreatorMetadata     `json:"createdBy"`
}

// ModuleInfo names a buildpack in the builder metadata label.
type ModuleInfo struct {
	ID       string `json:"id"`
	Name     string `json:"name,omitempty"`
	Version  string `json:"version"`
	Homepage string `json:"homepage,omitempty"`
}

// StackMetadata is metadata.stack.
type StackMetadata struct {
	RunImage RunImageMetadata `json:"runImage"`
}

// RunImageMetadata is metadata.stack.runImage; pack always writes mirrors, possibly empty.
type RunImageMetadata struct {
	Image   string   `json:"image"`
	Mirrors []string `json:"mirrors"`
}

// LifecycleMetadata is metadata.lifecycle: the lifecycle version and the APIs it speaks.
// API holds the deprecated single versions (the lowest supported), APIs the full lists.
type LifecycleMetadata struct {
	Version string        `json:"version"`
	API     LifecycleAPI  `json:"api"`
	APIs    LifecycleAPIs `json:"apis"`
}

// LifecycleAPI is the deprecated metadata.lifecycle.api.
type LifecycleAPI struct {
	Buildpack string `json:"buildpack"`
	Platform  string `json:"platform"`
}

// LifecycleAPIs is metadata.lifecycle.apis and the io.buildpacks.lifecycle.apis label.
type LifecycleAPIs struct {
	Buildpack APIVersions `json:"buildpack"`
	Platform  APIVersions `json:"platform"`
}

// APIVersions lists supported and deprecated API versions; pack writes both, never null.
type APIVersions struct {
	Deprecated []string `json:"deprecated"`
	Supported  []string `json:"supported"`
}

// CreatorMetadata is metadata.createdBy.
type CreatorMetadata struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// ModuleLayers is the io.buildpacks.buildpack.layers label: id → version → layer info
// (docs/spec-notes.md, Builder labels; distribution.md, Buildpackage).
type ModuleLayers map[string]map[string]ModuleLayerInfo

// ModuleLayerInfo describes the layer holding one buildpack at
// /cnb/buildpacks/<escaped id>/<version>/.
type ModuleLayerInfo struct {
	API         string            `json:"api"`
	Stacks      []buildpack.Stack `json:"stacks,omitempty"`
	Targets     []LayerTarget     `json:"targets,omitempty"`
	Order       buildpack.Order   `json:"order,omitempty"`
	LayerDiffID string            `json:"layerDiffID"`
	Homepage    string            `json:"homepage,omitempty"`
	Name        string            `json:"name,omitempty"`
}

// LayerTarget is a target in the layers label. pack has written the distro list both as
// "distros" with "version" and, in older releases, as "distributions" with "versions";
// both are read, the first is written.
type LayerTarget struct {
	OS      string         `json:"os"`
	Arch    string         `json:"arch"`
	Variant string         `json:"variant,omitempty"`
	Distros []LayerDistro  `json:"distros,omitempty"`
	Legacy  []legacyDistro `json:"distributions,omitempty"`
}

// LayerDistro is one distro of a LayerTarget.
type LayerDistro struct {
	Name    string `json:"name,omitempty"`
	Version string `json:"version,omitempty"`
}

type legacyDistro struct {
	Name     string   `json:"name,omitempty"`
	Versions []string `json:"versions,omitempty"`
}

// BuildpackageMetadata is the io.buildpacks.buildpackage.metadata label: the entrypoint
// buildpack of a buildpackage (distribution.md, Buildpackage). Stacks is legacy; pack writes it, so do we.
type BuildpackageMetadata struct {
	ID       string            `json:"id"`
	Version  string            `json:"version"`
	Name     string            `json:"name,omitempty"`
	Homepage string            `json:"homepage,omitempty"`
	Stacks   []buildpack.Stack `json:"stacks"`
}

// layerInfo describes descriptor d, whose layer has diffID, for the layers label.
func layerInfo(d *buildpack.Descriptor, diffID v1.Hash) ModuleLayerInfo {
	info := ModuleLayerInfo{
		API:         d.API,
		Stacks:      d.Stacks,
		Order:       d.Order,
		LayerDiffID: diffID.String(),
		Homepage:    d.Buildpack.Homepage,
		Name:        d.Buildpack.Name,
	}
	for _, t := range d.Targets {
		lt := LayerTarget{OS: t.OS, Arch: t.Arch, Variant: t.Variant}
		for _, dd := range t.Distros {
			lt.Distros = append(lt.Distros, LayerDistro(dd))
		}
		info.Targets = append(info.Targets, lt)
	}
	return info
}

// add records info for id@version.
func (m ModuleLayers) add(id, version string, info ModuleLayerInfo) {
	if m[id] == nil {
		m[id] = map[string]ModuleLayerInfo{}
	}
	m[id][version] = info
}

// decodeLabel unmarshals the JSON label key of labels into v; ok is false when it is absent.
func decodeLabel(labels map[string]string, key string, v any) (ok bool, err error) {
	raw, ok := labels[key]
	if !ok || raw == "" {
		return false, nil
	}
	if err := json.Unmarshal([]byte(raw), v); err != nil {
		return true, fmt.Errorf("label %s is not valid JSON of the expected shape: %w", key, err)
	}
	return true, nil
}

// encodeLabel marshals v for a label value.
func encodeLabel(key string, v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode label %s: %w", key, err)
	}
	return string(b), nil
}
