package lifecycle

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/slipway/slipway/launch"
	"github.com/slipway/slipway/platform"
)

// exportEntrypoint picks ENTRYPOINT (platform.md, exporter (Outputs)): the requested process type, which
// must exist; else the buildpack default if it exists; else the bare launcher.
func exportEntrypoint(md launch.Metadata, requested string) (string, error) {
	types := processTypes(md)
	if requested != "" {
		if !slices.Contains(types, requested) {
			avail := "none"
			if len(types) > 0 {
				avail = strings.Join(types, ", ")
			}
			return "", fmt.Errorf("process type %q (-process-type) is not defined by any buildpack; available: %s", requested, avail)
		}
		return path.Join(platform.ProcessDir, requested), nil
	}
	def := md.BuildpackDefaultProcessType
	if def == "" {
		for _, pr := range md.Processes {
			if pr.Default {
				def = pr.Type
			}
		}
	}
	if def != "" && slices.Contains(types, def) {
		return path.Join(platform.ProcessDir, def), nil
	}
	return platform.LauncherPath, nil
}

// exportEnv sets the CNB variables and puts the process links and launcher first on PATH
// (platform.md, exporter (Outputs), reference-lifecycle form). /cnb entries already on the run image's PATH (an app image
// reused as a base) are dropped so they are not doubled.
func exportEnv(base []string, platformAPI, layersDir, appDir string) []string {
	set := map[string]string{
		"CNB_LAYERS_DIR":       layersDir,
		"CNB_APP_DIR":          appDir,
		"CNB_PLATFORM_API":     platformAPI,
		"CNB_DEPRECATION_MODE": "quiet",
	}
	order := []string{"CNB_LAYERS_DIR", "CNB_APP_DIR", "CNB_PLATFORM_API", "CNB_DEPRECATION_MODE", "PATH"}
	runPath := ""
	var out []string
	for _, kv := range base {
		k, v, _ := strings.Cut(kv, "=")
		if k == "PATH" {
			runPath = v
			continue
		}
		if _, ok := set[k]; ok {
			continue
		}
		out = append(out, kv)
	}
	parts := []string{platform.ProcessDir, platform.LifecycleDir}
	for _, d := range strings.Split(runPath, ":") {
		if d != "" && d != platform.ProcessDir && d != platform.LifecycleDir {
			parts = append(parts, d)
		}
	}
	set["PATH"] = strings.Join(parts, ":")
	for _, k := range order {
		out = append(out, k+"="+set[k])
	}
	return out
}

// assemble appends the layers to the run image and writes config and labels (platform.md, exporter; platform.md, io.buildpacks.build.metadata (JSON)).
func (p *exportPlan) assemble(entrypoint string) (v1.Image, error) {
	run := p.in.RunImage
	runCF, err := run.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read run image config: %w", err)
	}
	runLayers, err := run.Layers()
	if err != nil {
		return nil, fmt.Errorf("read run image layers: %w", err)
	}
	if len(runLayers) == 0 {
		return nil, fmt.Errorf("run image %s has no layers", p.in.RunImageName)
	}
	// The config lists the diffIDs; asking a layer read from an OCI layout would gunzip it.
	var top v1.Hash
	if ids := runCF.RootFS.DiffIDs; len(ids) == len(runLayers) {
		top = ids[len(ids)-1]
	} else if top, err = runLayers[len(runLayers)-1].DiffID(); err != nil {
		return nil, fmt.Errorf("read run image top layer: %w", err)
	}
	p.meta.RunImage = RunImageForRebase{
		TopLayer:  top.String(),
		Reference: p.in.RunImageRef,
		Image:     p.in.RunImageName,
		Mirrors:   p.in.RunImageMirrors,
	}
	p.meta.Stack = &StackMetadata{RunImage: RunImageForExport{Image: p.in.RunImageName, Mirrors: p.in.RunImageMirrors}}
	if p.meta.App == nil {
		p.meta.App = []LayerSHA{}
	}
	if p.meta.Buildpacks == nil {
		p.meta.Buildpacks = []BuildpackLayersMetadata{}
	}

	base := run
	if nonEmptyHistory(runCF.History) != len(runLayers) {
		// History must line up with the layers once ours are appended; a base without a
		// matching history gets one blank entry per layer.
		cf := runCF.DeepCopy()
		cf.History = make([]v1.History, len(runLayers))
		if base, err = mutate.ConfigFile(run, cf); err != nil {
			return nil, fmt.Errorf("normalize run image history: %w", err)
		}
	}
	created := v1.Time{Time: p.in.Created}
	adds := make([]mutate.Addendum, 0, len(p.layers))
	layerMT := p.opts.MediaType
	for _, l := range p.layers {
		// MediaType is set so a reused previous-image layer follows the run image's family too.
		adds = append(adds, mutate.Addendum{
			Layer:     l.layer,
			MediaType: layerMT,
			History:   v1.History{Created: created, CreatedBy: l.createdBy},
		})
	}
	img, err := mutate.Append(base, adds...)
	if err != nil {
		return nil, fmt.Errorf("append layers to run image: %w", err)
	}
	cf0, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("compute image config: %w", err)
	}
	cf := cf0.DeepCopy()
	cf.Created = created
	cf.Config.WorkingDir = p.in.ImageAppDir
	cf.Config.Env = exportEnv(cf.Config.Env, p.in.PlatformAPI, p.in.ImageLayersDir, p.in.ImageAppDir)
	cf.Config.Entrypoint = []string{entrypoint}
	cf.Config.Cmd = nil // Reference lifecycle: cmd is set empty (platform.md, exporter (Outputs))
	labels, err := p.labels()
	if err != nil {
		return nil, err
	}
	if cf.Config.Labels == nil {
		cf.Config.Labels = map[string]string{}
	}
	for k, v := range labels {
		cf.Config.Labels[k] = v
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("set image config: %w", err)
	}
	return img, nil
}

func nonEmptyHistory(h []v1.History) int {
	n := 0
	for _, e := range h {
		if !e.EmptyLayer {
			n++
		}
	}
	return n
}

// labels computes the CNB labels (platform.md, io.buildpacks.lifecycle.metadata (JSON); platform.md, io.buildpacks.build.metadata (JSON)) plus buildpack [[labels]], last
// buildpack winning. io.buildpacks.rebasable is never written: the run image's value is
// inherited (reference-lifecycle behaviour, docs/spec-notes.md, Rebasable label).
func (p *exportPlan) labels() (map[string]string, error) {
	out := map[string]string{}
	for _, l := range p.md.Labels {
		out[l.Key] = l.Value
	}
	procs := slices.Clone(p.md.Processes)
	sort.SliceStable(procs, func(i, j int) bool { return procs[i].Type < procs[j].Type })
	if procs == nil {
		procs = []launch.Process{}
	}
	bps := p.md.Buildpacks
	if bps == nil {
		bps = []launch.Buildpack{}
	}
	build := BuildMetadata{
		BOM:        []any{},
		Buildpacks: bps,
		Extensions: p.md.Extensions,
		Launcher: LauncherMetadata{
			Version: p.in.LauncherVersion,
			Source:  LauncherSource{Git: GitSource{Repository: p.in.LauncherSourceRepository, Commit: p.in.LauncherSourceCommit}},
		},
		Processes:                   procs,
		BuildpackDefaultProcessType: p.md.BuildpackDefaultProcessType,
	}
	for key, v := range map[string]any{
		platform.LabelLifecycleMetadata: p.meta,
		platform.LabelBuildMetadata:     build,
		platform.LabelProjectMetadata:   p.in.ProjectMetadata,
	} {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("encode label %s: %w", key, err)
		}
		out[key] = string(b)
	}
	return out, nil
}
