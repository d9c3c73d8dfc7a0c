package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/slipway/slipway/api"
	"github.com/slipway/slipway/buildpack"
	"github.com/slipway/slipway/launch"
	"github.com/slipway/slipway/layer"
	"github.com/slipway/slipway/nofollow"
	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/tomlfile"
)

// ExportInputs is everything the exporter reads (platform.md, builder; platform.md, exporter).
type ExportInputs struct {
	LayersDir string // host dir holding the layers the build wrote
	AppDir    string // host dir holding the app the build left
	// ImageLayersDir and ImageAppDir are where the layers and the app were during the build,
	// and so where they go in the image: the -layers and -app the platform gave the exporter
	// (platform.md, exporter: the app image's working directory is the app directory). ""
	// means /layers and /workspace, where slipway's own sandbox mounts them.
	ImageLayersDir, ImageAppDir string
	Group                       []buildpack.GroupElement

	RunImage        v1.Image
	RunImageRef     string   // digest reference or image ID, recorded as runImage.reference
	RunImageName    string   // recorded as runImage.image
	RunImageMirrors []string // recorded as runImage.mirrors

	LauncherPath             string // host path of the static launcher → /cnb/lifecycle/launcher
	LauncherVersion          string
	LauncherSourceRepository string // optional, recorded in the build label
	LauncherSourceCommit     string // optional, recorded in the build label

	ProjectMetadata    platform.ProjectMetadata
	DefaultProcessType string // -process-type; "" means the buildpack default

	// PreviousImage may be nil. A launch=true layer with a .toml but no directory reuses the
	// previous image's layer (buildpack.md, Launch Layers).
	PreviousImage v1.Image

	// Reuse is what each layer (by ExportedLayer.Name) was made from in the last export of this
	// image on this host. A layer whose fingerprint is unchanged and whose diffID is in
	// PreviousImage is taken from there without tar, hash or gzip (docs/architecture.md, "Never do work twice", docs/spec-notes.md, Layer reuse). Record ExportReport fingerprints to fill it next time.
	Reuse map[string]LayerFingerprint

	UID, GID    int       // CNB_USER_ID / CNB_GROUP_ID: owner of buildpack, app and config layers
	Created     time.Time // SOURCE_DATE_EPOCH; zero means layer.Epoch() (platform.md, Build Reproducibility)
	PlatformAPI string    // recorded as CNB_PLATFORM_API; "" means api.DefaultPlatform

	// SkipELFCheck turns off the check that every ELF file of a launch layer finds its
	// shared libraries in the run image or the layers (export_elf.go, ELFCheckDisabled).
	SkipELFCheck bool
	// ELFCacheDir keeps the library list of each run image (by digest) between builds; ""
	// keeps it in memory only.
	ELFCacheDir string

	// ScratchDir receives the layer blobs; the returned image reads them, so keep the dir until
	// the image is written.
	ScratchDir string
}

// ExportReport lists the layers the exporter added, bottom to top.
type ExportReport struct {
	Layers []ExportedLayer
}

// ExportedLayer is one added layer.
type ExportedLayer struct {
	// Name is "<bp-id>:<layer>", "sbom", "slice-<n>" (the last slice holds the remaining app
	// files), "launcher", "config" or "process-types".
	Name   string
	DiffID v1.Hash
	Digest v1.Hash
	Size   int64
	// Reused is true for a layer taken from the previous image, because the buildpack kept
	// only its .toml (buildpack.md, Launch Layers) or because its tree is unchanged since the last export.
	Reused bool
	// Reason says why the layer was reused or rebuilt, e.g. "reused (unchanged)" or
	// "rebuilt (contents changed)".
	Reason string
	// Fingerprint is the host-local summary of the layer's inputs ("" when not computed).
	Fingerprint string
}

// LayerFingerprint is a layer's input fingerprint (layer.FingerprintDir …) and the diffID it
// produced.
type LayerFingerprint struct {
	Fingerprint string `json:"fingerprint"`
	DiffID      string `json:"diffID"`
}

// Export assembles the app image on top of the run image (platform.md, exporter). Layers are written
// to ScratchDir in parallel; nothing is pushed. Errors carry exit code 62.
func Export(ctx context.Context, in ExportInputs) (v1.Image, *ExportReport, error) {
	img, rep, err := export(ctx, in)
	if err != nil {
		return nil, nil, platform.NewError(platform.CodeExportError, err)
	}
	return img, rep, nil
}

// exportLayer is one planned layer: built (or looked up) by build, recorded by record.
type exportLayer struct {
	name      string
	createdBy string
	reused    bool
	build     func(ctx context.Context) (v1.Layer, error)
	// fingerprint, when set, summarises the layer's inputs so an unchanged layer is reused.
	fingerprint func(ctx context.Context) (string, error)
	record      func(diffID string)

	layer  v1.Layer
	fp     string
	reason string
}

type exportPlan struct {
	in       ExportInputs
	md       launch.Metadata
	meta     LayersMetadata
	opts     layer.Options // buildpack, app and config layers
	rootOpts layer.Options // launcher and process-types layers
	layers   []*exportLayer
	prevMeta *LayersMetadata
	elf      []launchDirLayer // launch layers built from directories, for checkLaunchELF
}

func export(ctx context.Context, in ExportInputs) (v1.Image, *ExportReport, error) {
	if in.RunImage == nil {
		return nil, nil, errors.New("export: no run image given")
	}
	if in.Created.IsZero() {
		in.Created = layer.Epoch()
	}
	in.Created = in.Created.UTC()
	if in.PlatformAPI == "" {
		in.PlatformAPI = api.DefaultPlatform.String()
	}
	in.ImageLayersDir = imageDir(in.ImageLayersDir, platform.LayersDir)
	in.ImageAppDir = imageDir(in.ImageAppDir, platform.AppDir)
	if in.ImageAppDir == "/" || in.ImageLayersDir == "/" || in.ImageAppDir == in.ImageLayersDir {
		return nil, nil, fmt.Errorf("export: app directory %q and layers directory %q must be two directories other than /", in.ImageAppDir, in.ImageLayersDir)
	}
	layerMT, err := layerMediaType(in.RunImage)
	if err != nil {
		return nil, nil, err
	}
	p := &exportPlan{in: in}
	// Buildpack, app and config layers belong to the CNB user, and so do the /layers and
	// /workspace parents, as in the build container (docs/spec-notes.md, Builder image; platform.md, Build Reproducibility). The launcher and
	// process links are root-owned (platform.md, Build Reproducibility).
	p.opts = layer.Options{ScratchDir: in.ScratchDir, MediaType: layerMT, ModTime: in.Created,
		UID: in.UID, GID: in.GID, ParentUID: in.UID, ParentGID: in.GID}
	p.rootOpts = layer.Options{ScratchDir: in.ScratchDir, MediaType: layerMT, ModTime: in.Created}

	if err := validateGroup(in.Group); err != nil {
		return nil, nil, err
	}
	// Written in the sandbox, read here on the host: no symlink is followed.
	if err := tomlfile.ReadIn(in.LayersDir, "config/metadata.toml", &p.md); err != nil {
		return nil, nil, fmt.Errorf("read launch metadata (run the build phase first): %w", err)
	}
	for _, proc := range p.md.Processes {
		if err := buildpack.ValidateProcessType(proc.Type); err != nil {
			return nil, nil, fmt.Errorf("launch metadata: process of buildpack %s: %w", proc.BuildpackID, err)
		}
	}
	entrypoint, err := exportEntrypoint(p.md, in.DefaultProcessType)
	if err != nil {
		return nil, nil, err
	}
	if err := p.planBuildpackLayers(); err != nil {
		return nil, nil, err
	}
	if !in.SkipELFCheck {
		if err := checkLaunchELF(ctx, in.RunImage, in.RunImageName, p.elf, in.ELFCacheDir); err != nil {
			return nil, nil, err
		}
	}
	p.planSBOMLayer()
	if err := p.planAppLayers(ctx); err != nil {
		return nil, nil, err
	}
	p.planLauncherLayers()

	if err := p.buildLayers(ctx); err != nil {
		return nil, nil, err
	}
	img, err := p.assemble(entrypoint)
	if err != nil {
		return nil, nil, err
	}
	rep := &ExportReport{}
	for _, l := range p.layers {
		e := ExportedLayer{Name: l.name, Reused: l.reused, Reason: l.reason, Fingerprint: l.fp}
		if e.DiffID, err = l.layer.DiffID(); err == nil {
			if e.Digest, err = l.layer.Digest(); err == nil {
				e.Size, err = l.layer.Size()
			}
		}
		if err != nil {
			return nil, nil, fmt.Errorf("describe layer %s: %w", l.name, err)
		}
		rep.Layers = append(rep.Layers, e)
	}
	return img, rep, nil
}

// imageDir is dir as an absolute, clean path in the image; def when dir is "".
func imageDir(dir, def string) string {
	if dir == "" {
		return def
	}
	return path.Clean("/" + filepath.ToSlash(dir))
}

// layerMediaType follows the run image's manifest family so the image never mixes Docker and
// OCI media types.
func layerMediaType(run v1.Image) (types.MediaType, error) {
	mt, err := run.MediaType()
	if err != nil {
		return "", fmt.Errorf("read run image media type: %w", err)
	}
	if mt == types.DockerManifestSchema2 {
		return types.DockerLayer, nil
	}
	return types.OCILayer, nil
}

// layerTOML is <layers>/<bp>/<layer>.toml as the exporter needs it (buildpack.md, Layer Content Metadata (TOML)).
type layerTOML struct {
	Types struct {
		Launch bool `toml:"launch"`
		Build  bool `toml:"build"`
		Cache  bool `toml:"cache"`
	} `toml:"types"`
	Metadata map[string]any `toml:"metadata"`
}

// planBuildpackLayers adds each buildpack's launch layers, in group order and sorted by name
// within a buildpack (docs/spec-notes.md, Image layer order item 3).
func (p *exportPlan) planBuildpackLayers() error {
	for _, bp := range p.in.Group {
		if bp.Extension {
			continue
		}
		bpDir := filepath.Join(p.in.LayersDir, buildpack.EscapedID(bp.ID))
		bpMeta := BuildpackLayersMetadata{ID: bp.ID, Version: bp.Version, Layers: map[string]BuildpackLayerMetadata{}}
		esc := buildpack.EscapedID(bp.ID)
		var store BuildpackStore
		switch err := tomlfile.ReadIn(p.in.LayersDir, esc+"/store.toml", &store); {
		case err == nil:
			bpMeta.Store = &store
		case !errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("buildpack %s: %w", bp.Ref(), err)
		}
		names, err := layerNames(p.in.LayersDir, esc)
		if err != nil {
			return fmt.Errorf("buildpack %s: %w", bp.Ref(), err)
		}
		idx := len(p.meta.Buildpacks)
		p.meta.Buildpacks = append(p.meta.Buildpacks, bpMeta)
		for _, name := range names {
			var lt layerTOML
			if err := tomlfile.ReadIn(p.in.LayersDir, esc+"/"+name+".toml", &lt); err != nil {
				return fmt.Errorf("buildpack %s: %w", bp.Ref(), err)
			}
			if !lt.Types.Launch {
				continue // buildpack.md, Launch Layers: launch=false layers are not in the image
			}
			lm := BuildpackLayerMetadata{Data: lt.Metadata, Build: lt.Types.Build, Launch: true, Cache: lt.Types.Cache}
			id := bp.ID + ":" + name
			el := &exportLayer{
				name:      id,
				createdBy: fmt.Sprintf("Layer: '%s', Created by buildpack: %s", name, bp.Ref()),
				record: func(sha string) {
					lm.SHA = sha
					p.meta.Buildpacks[idx].Layers[name] = lm
				},
			}
			dir := filepath.Join(bpDir, name)
			fi, err := os.Lstat(dir)
			if err == nil && !fi.IsDir() {
				return fmt.Errorf("buildpack %s: layer %s is not a directory (a symlink or file); a layer must be a directory", bp.Ref(), dir)
			}
			if err == nil {
				imagePath := path.Join(p.in.ImageLayersDir, buildpack.EscapedID(bp.ID), name)
				p.elf = append(p.elf, launchDirLayer{name: id, dir: dir, imagePath: imagePath})
				el.build = func(ctx context.Context) (v1.Layer, error) {
					return layer.FromDir(ctx, dir, imagePath, p.opts)
				}
				el.fingerprint = func(ctx context.Context) (string, error) {
					return layer.FingerprintDir(ctx, dir, imagePath, p.opts)
				}
			} else {
				if lt.Types.Cache {
					return fmt.Errorf("layer %s is cache=true but has no contents at %s; the buildpack must recreate it or set cache=false", id, dir)
				}
				prev, err := p.previousLayer(bp.ID, name)
				if err != nil {
					return err
				}
				el.reused = true
				el.reason = "reused from the previous image (buildpack kept only the .toml, buildpack.md, Launch Layers)"
				el.build = func(context.Context) (v1.Layer, error) { return prev, nil }
			}
			p.layers = append(p.layers, el)
		}
	}
	return nil
}

// validateGroup checks the ids and versions of group.toml, written in the sandbox, before
// they become paths here.
func validateGroup(group []buildpack.GroupElement) error {
	for _, bp := range group {
		if err := buildpack.ValidateRef(bp.ID, bp.Version); err != nil {
			return fmt.Errorf("group: %w", err)
		}
	}
	return nil
}

// layerNames lists the layer TOMLs of a buildpack's layers dir, sorted by layer name.
func layerNames(layersDir, esc string) ([]string, error) {
	bpDir := filepath.Join(layersDir, esc)
	// A buildpack could have replaced its dir with a symlink to a host directory.
	entries, err := nofollow.ReadDir(layersDir, esc)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read buildpack layers dir: %w", err)
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".toml") {
			continue
		}
		switch n {
		case "launch.toml", "build.toml", "store.toml":
			continue
		}
		// The name becomes <layers>/<bp>/<name> and /layers/<bp>/<name> in the image.
		name := strings.TrimSuffix(n, ".toml")
		if err := buildpack.ValidateLayerName(name); err != nil {
			return nil, fmt.Errorf("layer file %s: %w", filepath.Join(bpDir, n), err)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return names, nil
}

// previousLayer finds a layer of the previous image by the diffID its lifecycle metadata
// label records (buildpack.md, Launch Layers).
func (p *exportPlan) previousLayer(bpID, name string) (v1.Layer, error) {
	id := bpID + ":" + name
	if p.in.PreviousImage == nil {
		return nil, fmt.Errorf("layer %s has launch=true and no directory, which reuses it from the previous image, but there is no previous image; the buildpack must recreate the layer", id)
	}
	if p.prevMeta == nil {
		cf, err := p.in.PreviousImage.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("read previous image config: %w", err)
		}
		var m LayersMetadata
		if raw := cf.Config.Labels[platform.LabelLifecycleMetadata]; raw != "" {
			if err := json.Unmarshal([]byte(raw), &m); err != nil {
				return nil, fmt.Errorf("parse previous image label %s: %w", platform.LabelLifecycleMetadata, err)
			}
		}
		p.prevMeta = &m
	}
	var sha string
	for _, b := range p.prevMeta.Buildpacks {
		if b.ID == bpID {
			sha = b.Layers[name].SHA
		}
	}
	if sha == "" {
		return nil, fmt.Errorf("cannot reuse layer %s: the previous image's %s label does not record it; the buildpack must recreate the layer", id, platform.LabelLifecycleMetadata)
	}
	h, err := v1.NewHash(sha)
	if err != nil {
		return nil, fmt.Errorf("cannot reuse layer %s: previous image records diffID %q: %w", id, sha, err)
	}
	l, err := p.in.PreviousImage.LayerByDiffID(h)
	if err != nil {
		return nil, fmt.Errorf("cannot reuse layer %s: previous image has no layer %s: %w", id, sha, err)
	}
	return knownDiffID{Layer: l, diffID: h}, nil
}

// planSBOMLayer adds <layers>/sbom/launch when buildpacks produced launch SBOMs (docs/spec-notes.md, Image layer order item 4).
func (p *exportPlan) planSBOMLayer() {
	dir := filepath.Join(p.in.LayersDir, "sbom", "launch")
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return
	}
	p.layers = append(p.layers, &exportLayer{
		name:      "sbom",
		createdBy: "Software Bill-of-Materials",
		build: func(ctx context.Context) (v1.Layer, error) {
			return layer.FromDir(ctx, dir, path.Join(p.in.ImageLayersDir, "sbom", "launch"), p.opts)
		},
		fingerprint: func(ctx context.Context) (string, error) {
			return layer.FingerprintDirContents(ctx, dir, path.Join(p.in.ImageLayersDir, "sbom", "launch"), p.opts)
		},
		record: func(sha string) { p.meta.SBOM = &LayerSHA{SHA: sha} },
	})
}

// planLauncherLayers adds the launcher, config and process-types layers (docs/spec-notes.md, Image layer order items 6–8).
func (p *exportPlan) planLauncherLayers() {
	root := layer.Owner{UID: 0, GID: 0, Mode: 0o755}
	launcher := []layer.Entry{{Type: layer.EntryFile, Path: platform.LauncherPath, HostPath: p.in.LauncherPath, Owner: root}}
	p.layers = append(p.layers, &exportLayer{
		name:      "launcher",
		createdBy: "Buildpacks Application Launcher",
		build: func(ctx context.Context) (v1.Layer, error) {
			return layer.FromEntries(ctx, launcher, p.rootOpts)
		},
		fingerprint: func(context.Context) (string, error) { return layer.FingerprintEntries(launcher, p.rootOpts) },
		record:      func(sha string) { p.meta.Launcher.SHA = sha },
	})
	configDir := filepath.Join(p.in.LayersDir, "config")
	p.layers = append(p.layers, &exportLayer{
		name:      "config",
		createdBy: "Buildpacks Launcher Config",
		build: func(ctx context.Context) (v1.Layer, error) {
			return layer.FromDir(ctx, configDir, path.Join(p.in.ImageLayersDir, "config"), p.opts)
		},
		fingerprint: func(ctx context.Context) (string, error) {
			return layer.FingerprintDirContents(ctx, configDir, path.Join(p.in.ImageLayersDir, "config"), p.opts)
		},
		record: func(sha string) { p.meta.Config.SHA = sha },
	})
	if len(p.md.Processes) == 0 {
		return
	}
	var entries []layer.Entry
	for _, t := range processTypes(p.md) {
		entries = append(entries, layer.Entry{
			Type: layer.EntrySymlink, Path: path.Join(platform.ProcessDir, t), Target: platform.LauncherPath, Owner: root,
		})
	}
	p.layers = append(p.layers, &exportLayer{
		name:      "process-types",
		createdBy: "Buildpacks Process Types",
		build: func(ctx context.Context) (v1.Layer, error) {
			return layer.FromEntries(ctx, entries, p.rootOpts)
		},
		fingerprint: func(context.Context) (string, error) { return layer.FingerprintEntries(entries, p.rootOpts) },
		record:      func(sha string) { p.meta.ProcessTypes.SHA = sha },
	})
}

func processTypes(md launch.Metadata) []string {
	var ts []string
	for _, pr := range md.Processes {
		ts = append(ts, pr.Type)
	}
	sort.Strings(ts)
	return slices.Compact(ts)
}

// buildLayers builds every planned layer, at most GOMAXPROCS at a time; the first failure
// cancels the rest and removes nothing already written (the scratch dir is the caller's).
func (p *exportPlan) buildLayers(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	errs := make([]error, len(p.layers))
	var wg sync.WaitGroup
	for i, l := range p.layers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			built, err := p.buildOrReuse(ctx, l)
			if err != nil {
				errs[i] = fmt.Errorf("create layer %s: %w", l.name, err)
				cancel()
				return
			}
			l.layer = built
		}()
	}
	wg.Wait()
	// Report the first real failure rather than the cancellations it caused.
	var first error
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		if err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		return first
	}
	for _, l := range p.layers {
		d, err := l.layer.DiffID()
		if err != nil {
			return fmt.Errorf("read diffID of layer %s: %w", l.name, err)
		}
		l.record(d.String())
	}
	return nil
}

// buildOrReuse takes the previous image's layer when the layer's fingerprint equals the one
// recorded at the last export (no tar, no hash, no gzip; the blob is already in the store or
// registry, so it is not written again either), and builds it otherwise.
func (p *exportPlan) buildOrReuse(ctx context.Context, l *exportLayer) (v1.Layer, error) {
	if l.fingerprint == nil {
		return l.build(ctx)
	}
	fp, err := l.fingerprint(ctx)
	if err != nil {
		return nil, err
	}
	l.fp = fp
	prev, ok := p.in.Reuse[l.name]
	switch {
	case !ok || prev.DiffID == "":
		l.reason = "rebuilt (no previous export recorded)"
	case prev.Fingerprint != fp:
		l.reason = "rebuilt (contents changed)"
	case p.in.PreviousImage == nil:
		l.reason = "rebuilt (no previous image)"
	default:
		h, err := v1.NewHash(prev.DiffID)
		if err == nil {
			var pl v1.Layer
			if pl, err = p.in.PreviousImage.LayerByDiffID(h); err == nil {
				l.reused = true
				l.reason = "reused (unchanged)"
				return knownDiffID{Layer: pl, diffID: h}, nil
			}
		}
		l.reason = "rebuilt (previous layer " + prev.DiffID + " is not in the previous image)"
	}
	return l.build(ctx)
}

// knownDiffID is a previous-image layer whose diffID is already known. Layers read from an OCI
// layout compute DiffID by gunzipping the whole blob; this answers from the label instead.
type knownDiffID struct {
	v1.Layer
	diffID v1.Hash
}

func (k knownDiffID) DiffID() (v1.Hash, error) { return k.diffID, nil }
