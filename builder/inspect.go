package builder

import (
	"fmt"
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipway/slipway/buildpack"
	"github.com/slipway/slipway/platform"
)

// Info summarises a builder image's labels (docs/spec-notes.md, Builder labels) for `slipway builder inspect`.
type Info struct {
	Name        string              `json:"name,omitempty"`
	Digest      string              `json:"digest"`
	Description string              `json:"description"`
	CreatedBy   CreatorMetadata     `json:"createdBy"`
	StackID     string              `json:"stackID,omitempty"`
	RunImages   []platform.RunImage `json:"runImages"`
	Lifecycle   LifecycleMetadata   `json:"lifecycle"`
	Buildpacks  []BuildpackInfo     `json:"buildpacks"`
	Order       buildpack.Order     `json:"order"`
}

// BuildpackInfo is one buildpack of a builder and the layer holding it.
type BuildpackInfo struct {
	ID          string `json:"id"`
	Version     string `json:"version"`
	Name        string `json:"name,omitempty"`
	Homepage    string `json:"homepage,omitempty"`
	API         string `json:"api"`
	LayerDiffID string `json:"layerDiffID"`
}

// Inspect reads the builder labels of img; it fails for an image without
// io.buildpacks.builder.metadata.
func Inspect(img v1.Image) (*Info, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read image config: %w", err)
	}
	dig, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("read image digest: %w", err)
	}
	labels := cf.Config.Labels
	var md Metadata
	ok, err := decodeLabel(labels, platform.LabelBuilderMetadata, &md)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("no %s label: this is not a builder image", platform.LabelBuilderMetadata)
	}
	info := &Info{Digest: dig.String(), Description: md.Description, CreatedBy: md.CreatedBy, StackID: labels[platform.LabelStackID], Lifecycle: md.Lifecycle}
	info.RunImages = md.Images
	if len(info.RunImages) == 0 && md.Stack.RunImage.Image != "" {
		info.RunImages = []platform.RunImage{{Image: md.Stack.RunImage.Image, Mirrors: md.Stack.RunImage.Mirrors}}
	}
	if _, err := decodeLabel(labels, platform.LabelBuildpackOrder, &info.Order); err != nil {
		return nil, err
	}
	mods := ModuleLayers{}
	if _, err := decodeLabel(labels, platform.LabelBuildpackLayers, &mods); err != nil {
		return nil, err
	}
	for id, versions := range mods {
		for version, l := range versions {
			info.Buildpacks = append(info.Buildpacks, BuildpackInfo{ID: id, Version: version, Name: l.Name, Homepage: l.Homepage, API: l.API, LayerDiffID: l.LayerDiffID})
		}
	}
	sort.Slice(info.Buildpacks, func(i, j int) bool {
		a, b := info.Buildpacks[i], info.Buildpacks[j]
		if a.ID != b.ID {
			return a.ID < b.ID
		}
		return a.Version < b.Version
	})
	return info, nil
}
