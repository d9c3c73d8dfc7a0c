package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/slipway/slipway/api"
	"github.com/slipway/slipway/buildpack"
	"github.com/slipway/slipway/launch"
	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/tomlfile"
)

// BuildInputs are the builder's inputs (platform.md, builder).
type BuildInputs struct {
	// ProcessTime, when set, receives the time spent in bin/build.
	ProcessTime                                                   *ProcessTime
	AppDir, LayersDir, PlatformDir, BuildpacksDir, BuildConfigDir string
	Group                                                         []buildpack.GroupElement // from group.toml
	Plan                                                          platform.PlanFile        // from plan.toml
	Target                                                        buildpack.Target
	// ExecEnv is CNB_EXEC_ENV; empty means "production" (docs/spec-notes.md, API versions).
	ExecEnv  string
	Platform api.Platform
	// Environ is the builder's own environment; only the include-list reaches buildpacks
	// (docs/spec-notes.md, Build environment).
	Environ []string
	// Out receives buildpack output as it is written, each line prefixed with "[<id>] ".
	Out io.Writer
	// Log receives the builder's own warnings; nil means Out.
	Log io.Writer
}

// Build runs bin/build of every buildpack of the group in order and writes
// <layers>/config/metadata.toml atomically (buildpack.md, Build; buildpack.md, Software Bill of Materials; platform.md, builder). A failing
// buildpack yields a platform.Error with code 51; every other failure code 50.
func Build(ctx context.Context, in BuildInputs) (*launch.Metadata, error) {
	md, err := build(ctx, in)
	if err != nil {
		var be *buildpack.BuildError
		if errors.As(err, &be) {
			return nil, platform.NewError(platform.CodeBuildpackFailed, err)
		}
		var pe *platform.Error
		if errors.As(err, &pe) {
			return nil, err
		}
		return nil, platform.NewError(platform.CodeBuildError, err)
	}
	return md, nil
}

func build(ctx context.Context, in BuildInputs) (*launch.Metadata, error) {
	logw := in.Log
	if logw == nil {
		logw = in.Out
	}
	if logw == nil {
		logw = io.Discard
	}
	// Reference lifecycle: stale SBOMs from a previous build must not reach the image (platform.md, builder).
	sbomDir := filepath.Join(in.LayersDir, "sbom")
	if err := os.RemoveAll(sbomDir); err != nil {
		return nil, fmt.Errorf("remove stale SBOM dir %s: %w", sbomDir, err)
	}

	if in.Platform.Version == (api.Version{}) {
		in.Platform, _ = api.ForPlatform("")
	}
	env := launch.NewEnv(in.Environ, launch.BuildRootDirs, launch.BuildEnvIncludeList)
	plan := in.Plan
	md := &launch.Metadata{Buildpacks: []launch.Buildpack{}, Processes: []launch.Process{}}
	procs := processMerger{byType: map[string]launch.Process{}}
	labelIndex := map[string]int{}

	for i, ge := range in.Group {
		if ge.Extension {
			continue
		}
		d, err := readGroupDescriptor(in.BuildpacksDir, ge)
		if err != nil {
			return nil, err
		}
		start := time.Now()
		res, err := d.Build(ctx, buildpack.BuildConfig{
			AppDir:         in.AppDir,
			LayersDir:      in.LayersDir,
			PlatformDir:    in.PlatformDir,
			BuildConfigDir: in.BuildConfigDir,
			Plan:           planForBuildpack(plan, d.Buildpack.ID),
			Env:            env,
			Target:         in.Target,
			ExecEnv:        in.ExecEnv,
			Out:            in.Out,
			OutPrefix:      "[" + d.Buildpack.ID + "] ",
			Group:          in.Group,
			Index:          i,
		})
		in.ProcessTime.track(start, time.Now())
		if err != nil {
			return nil, err
		}
		for _, w := range res.Warnings {
			fmt.Fprintf(logw, "warning: %s\n", w)
		}
		// Later buildpacks see this one's build layers (buildpack.md, Provided by the Buildpacks).
		if err := buildpack.ApplyLayerEnv(env, res.Layers); err != nil {
			return nil, fmt.Errorf("buildpack %s: %w", d.Ref(), err)
		}
		if err := buildpack.CopySBOMFiles(in.LayersDir, res.SBOMFiles); err != nil {
			return nil, fmt.Errorf("buildpack %s: %w", d.Ref(), err)
		}
		plan = withoutMet(plan, res.MetRequires)

		md.Buildpacks = append(md.Buildpacks, launch.Buildpack{
			ID: d.Buildpack.ID, Version: d.Buildpack.Version, API: d.API, Homepage: d.Buildpack.Homepage,
		})
		if !in.Platform.ExecEnv {
			// Process exec-env is a Platform API 0.15 feature (docs/spec-notes.md, API versions).
			for i := range res.Processes {
				res.Processes[i].ExecEnv = nil
			}
		}
		for _, w := range procs.add(res.Processes) {
			fmt.Fprintf(logw, "warning: %s\n", w)
		}
		// Labels: the last buildpack to set a key wins (buildpack.md, Slice Layers).
		for _, l := range res.Labels {
			if i, ok := labelIndex[l.Key]; ok {
				md.Labels[i] = l
				continue
			}
			labelIndex[l.Key] = len(md.Labels)
			md.Labels = append(md.Labels, l)
		}
		md.Slices = append(md.Slices, res.Slices...)
	}
	md.Processes, md.BuildpackDefaultProcessType = procs.list()

	configDir := filepath.Join(in.LayersDir, "config")
	if err := os.MkdirAll(configDir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", configDir, err)
	}
	if err := tomlfile.Write(filepath.Join(configDir, "metadata.toml"), md); err != nil {
		return nil, err
	}
	return md, nil
}

// readGroupDescriptor reads <buildpacks>/<escaped-id>/<version>/buildpack.toml and checks it
// is the group member it claims to be.
func readGroupDescriptor(buildpacksDir string, ge buildpack.GroupElement) (*buildpack.Descriptor, error) {
	dir := filepath.Join(buildpacksDir, buildpack.EscapedID(ge.ID), ge.Version)
	d, err := buildpack.ReadDescriptor(dir)
	if err != nil {
		return nil, fmt.Errorf("read buildpack %s from group.toml: %w", ge.Ref(), err)
	}
	if d.Buildpack.ID != ge.ID || d.Buildpack.Version != ge.Version {
		return nil, fmt.Errorf("read buildpack %s from group.toml: %s declares %s", ge.Ref(), filepath.Join(dir, "buildpack.toml"), d.Ref())
	}
	if d.IsComposite() {
		return nil, fmt.Errorf("buildpack %s in group.toml is a composite buildpack; group.toml lists only component buildpacks", ge.Ref())
	}
	return d, nil
}

// planForBuildpack is every requirement of every plan.toml entry the buildpack provides,
// one plan entry per requirement, never merged (buildpack.md, Buildpack Plan (TOML)).
func planForBuildpack(plan platform.PlanFile, id string) buildpack.BuildpackPlan {
	out := buildpack.BuildpackPlan{Entries: []buildpack.Require{}}
	for _, e := range plan.Entries {
		for _, p := range e.Providers {
			if p.ID == id {
				out.Entries = append(out.Entries, e.Requires...)
				break
			}
		}
	}
	return out
}

// withoutMet drops the entries a buildpack met; only [[unmet]] ones reach the next provider
// (buildpack.md, Unmet Buildpack Plan Entries). An entry is named by its requirements (all share the name).
func withoutMet(plan platform.PlanFile, met []string) platform.PlanFile {
	if len(met) == 0 {
		return plan
	}
	isMet := map[string]bool{}
	for _, n := range met {
		isMet[n] = true
	}
	var out platform.PlanFile
	for _, e := range plan.Entries {
		if len(e.Requires) > 0 && isMet[e.Requires[0].Name] {
			continue
		}
		out.Entries = append(out.Entries, e)
	}
	return out
}

// processMerger merges processes across buildpacks (buildpack.md, launch.toml (TOML)): a later process of
// the same type replaces the earlier one; the default is the last default=true; a
// non-default process replacing the default type leaves no default.
type processMerger struct {
	byType      map[string]launch.Process
	defaultType string
}

func (m *processMerger) add(procs []launch.Process) (warnings []string) {
	for _, p := range procs {
		switch {
		case p.Default:
			m.defaultType = p.Type
		case p.Type == m.defaultType:
			prev := m.byType[p.Type]
			warnings = append(warnings, fmt.Sprintf("process type %q of buildpack %s is not default and replaces the default process of buildpack %s; the image has no default process now",
				p.Type, p.BuildpackID, prev.BuildpackID))
			m.defaultType = ""
		}
		m.byType[p.Type] = p
	}
	return warnings
}

// list returns the processes sorted by type (buildpack.md, launch.toml (TOML); platform.md, Build Reproducibility) with Default set only
// on the default process, and the default type.
func (m *processMerger) list() ([]launch.Process, string) {
	out := make([]launch.Process, 0, len(m.byType))
	for _, p := range m.byType {
		p.Default = p.Type == m.defaultType
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out, m.defaultType
}
