// Package inspect reads what a CNB app image says about itself: buildpacks, processes,
// run image and layers, from its config and io.buildpacks.* labels (platform.md, io.buildpacks.lifecycle.metadata (JSON); platform.md, io.buildpacks.build.metadata (JSON)).
package inspect

import (
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/slipway/slipway/platform"
)

// Info is the summary `slipway inspect` prints.
type Info struct {
	Name           string            `json:"name,omitempty"`
	Digest         string            `json:"digest"`
	Created        string            `json:"created"`
	RunImage       RunImage          `json:"runImage"`
	Buildpacks     []Buildpack       `json:"buildpacks"`
	Processes      []Process         `json:"processes"`
	DefaultProcess string            `json:"defaultProcess,omitempty"`
	Layers         []Layer           `json:"layers"`
	Labels         map[string]string `json:"labels,omitempty"`
}

// RunImage is the base the app image sits on.
type RunImage struct {
	Image     string   `json:"image"`
	Mirrors   []string `json:"mirrors,omitempty"`
	Reference string   `json:"reference"`
	TopLayer  string   `json:"topLayer"`
}

// Buildpack is a member of the build group.
type Buildpack struct {
	ID       string `json:"id"`
	Version  string `json:"version"`
	Homepage string `json:"homepage,omitempty"`
}

// Process is a process type of the image.
type Process struct {
	Type        string   `json:"type"`
	Command     []string `json:"command"`
	Args        []string `json:"args"`
	WorkingDir  string   `json:"working-dir,omitempty"`
	BuildpackID string   `json:"buildpackID"`
	Default     bool     `json:"default"`
}

// Layer is one filesystem layer, bottom first.
type Layer struct {
	DiffID    string `json:"diffID"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
	CreatedBy string `json:"createdBy,omitempty"`
}

type lifecycleMetadata struct {
	RunImage RunImage `json:"runImage"`
}

type buildMetadata struct {
	Buildpacks     []Buildpack `json:"buildpacks"`
	Processes      []Process   `json:"processes"`
	DefaultProcess string      `json:"buildpack-default-process-type"`
}

// Read summarises img. An image without CNB labels is an error naming what is missing.
func Read(img v1.Image) (*Info, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read image config: %w", err)
	}
	dig, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("image digest: %w", err)
	}
	labels := cfg.Config.Labels
	raw, ok := labels[platform.LabelLifecycleMetadata]
	if !ok {
		return nil, fmt.Errorf("not a buildpacks image: it has no %s label", platform.LabelLifecycleMetadata)
	}
	var lm lifecycleMetadata
	if err := json.Unmarshal([]byte(raw), &lm); err != nil {
		return nil, fmt.Errorf("label %s: %w", platform.LabelLifecycleMetadata, err)
	}
	var bm buildMetadata
	if raw := labels[platform.LabelBuildMetadata]; raw != "" {
		if err := json.Unmarshal([]byte(raw), &bm); err != nil {
			return nil, fmt.Errorf("label %s: %w", platform.LabelBuildMetadata, err)
		}
	}
	info := &Info{
		Digest:     dig.String(),
		Created:    cfg.Created.UTC().Format("2006-01-02T15:04:05Z"),
		RunImage:   lm.RunImage,
		Buildpacks: bm.Buildpacks,
		Processes:  bm.Processes,
		Labels:     map[string]string{},
	}
	// The default process is the one the entrypoint names (/cnb/process/<type>).
	for _, ep := range cfg.Config.Entrypoint {
		const prefix = "/cnb/process/"
		if len(ep) > len(prefix) && ep[:len(prefix)] == prefix {
			info.DefaultProcess = ep[len(prefix):]
		}
	}
	for i := range info.Processes {
		info.Processes[i].Default = info.Processes[i].Type == info.DefaultProcess
	}
	for k, v := range labels {
		if k != platform.LabelLifecycleMetadata && k != platform.LabelBuildMetadata {
			info.Labels[k] = v
		}
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("image layers: %w", err)
	}
	var history []v1.History
	for _, h := range cfg.History {
		if !h.EmptyLayer {
			history = append(history, h)
		}
	}
	for i, l := range layers {
		diffID, err := l.DiffID()
		if err != nil {
			return nil, fmt.Errorf("layer %d diffID: %w", i, err)
		}
		d, err := l.Digest()
		if err != nil {
			return nil, fmt.Errorf("layer %d digest: %w", i, err)
		}
		size, err := l.Size()
		if err != nil {
			return nil, fmt.Errorf("layer %d size: %w", i, err)
		}
		ly := Layer{DiffID: diffID.String(), Digest: d.String(), Size: size}
		if i < len(history) && len(history) == len(layers) {
			ly.CreatedBy = history[i].CreatedBy
		}
		info.Layers = append(info.Layers, ly)
	}
	return info, nil
}
