package builder

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/slipway/slipway/api"
	"github.com/slipway/slipway/buildpack"
	"github.com/slipway/slipway/layer"
	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/tomlfile"
)

// CreatorName is the createdBy.name of builder images Slipway writes.
const CreatorName = "Slipway"

// CreateOptions are the inputs of Create.
type CreateOptions struct {
	// Config is the builder.toml, its Order completed by FetchBuildpacks.
	Config *Config
	// Buildpacks are the laid-out buildpacks FetchBuildpacks returned.
	Buildpacks []*buildpack.Descriptor
	// BuildImage is the image the builder extends; its Env must carry CNB_USER_ID and
	// CNB_GROUP_ID (platform.md, Build Image).
	BuildImage v1.Image
	// LifecycleBinary is the static slipway binary, installed as /cnb/lifecycle/lifecycle;
	// each of Phases becomes a symlink to it, since the binary picks its phase by argv0
	// (platform.md, Platform API Compatibility).
	LifecycleBinary string
	Phases          []string
	// LauncherPath is the static launcher, installed as /cnb/lifecycle/launcher.
	LauncherPath string
	// Version is Slipway's version: the lifecycle version and createdBy.version.
	Version string
	// ScratchDir holds layer blobs while the image is in use; "" means os.TempDir().
	ScratchDir string
	// Created is the image creation time; zero means the reproducible epoch (platform.md, Build Reproducibility).
	Created time.Time
}

// Create makes a pack-compatible builder image on top of o.BuildImage (
// docs/spec-notes.md, Builder image; docs/spec-notes.md, Builder labels): one root-owned layer per buildpack at /cnb/buildpacks/<escaped id>/<version>/,
// a layer with /cnb/order.toml, run.toml, stack.toml, system.toml, build-config/env,
// /platform/env and the CNB user's /workspace and /layers, and a lifecycle layer with
// /cnb/lifecycle/{lifecycle,launcher,lifecycle.toml,<phase>→lifecycle}. The build image's
// Env and labels are kept; WORKDIR is /layers and User the CNB user. Equal inputs give an
// equal digest. Layer blobs stay in o.ScratchDir until the caller has written the image.
func Create(ctx context.Context, o CreateOptions) (v1.Image, error) {
	if o.Config == nil || o.BuildImage == nil {
		return nil, errors.New("create builder: Config and BuildImage are required")
	}
	cf, err := o.BuildImage.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("create builder: read build image %s config: %w", o.Config.Build.Image, err)
	}
	uid, gid, err := platform.CNBUser(cf.Config.Env, "build image "+o.Config.Build.Image)
	if err != nil {
		return nil, fmt.Errorf("create builder: %w", err)
	}
	mt, err := layerMediaType(o.BuildImage)
	if err != nil {
		return nil, fmt.Errorf("create builder: build image %s: %w", o.Config.Build.Image, err)
	}
	created := o.Created
	if created.IsZero() {
		created = layer.Epoch()
	}
	lopts := layer.Options{ScratchDir: o.ScratchDir, MediaType: mt, ModTime: layer.Epoch()}

	var addenda []mutate.Addendum
	layers := ModuleLayers{}
	var infos []ModuleInfo
	seen := map[string]bool{}
	for _, d := range o.Buildpacks {
		if seen[d.Ref()] {
			continue
		}
		seen[d.Ref()] = true
		l, err := buildpackLayer(ctx, d, lopts)
		if err != nil {
			return nil, fmt.Errorf("create builder: %w", err)
		}
		diffID, _ := l.DiffID()
		layers.add(d.Buildpack.ID, d.Buildpack.Version, layerInfo(d, diffID))
		infos = append(infos, ModuleInfo{ID: d.Buildpack.ID, Name: d.Buildpack.Name, Version: d.Buildpack.Version, Homepage: d.Buildpack.Homepage})
		addenda = append(addenda, addendum(l, created, "Buildpack: "+d.Ref()))
	}

	cnbLayer, err := cnbFilesLayer(ctx, o.Config, uid, gid, lopts)
	if err != nil {
		return nil, fmt.Errorf("create builder: %w", err)
	}
	addenda = append(addenda, addendum(cnbLayer, created, "Builder: order, run images, build config"))
	lcLayer, err := lifecycleLayer(ctx, o, lopts)
	if err != nil {
		return nil, fmt.Errorf("create builder: %w", err)
	}
	addenda = append(addenda, addendum(lcLayer, created, "Lifecycle: slipway "+o.Version))

	img, err := mutate.Append(o.BuildImage, addenda...)
	if err != nil {
		return nil, fmt.Errorf("create builder: append layers: %w", err)
	}
	labels, err := builderLabels(o, cf.Config.Labels, infos, layers)
	if err != nil {
		return nil, fmt.Errorf("create builder: %w", err)
	}
	ncf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("create builder: %w", err)
	}
	ncf = ncf.DeepCopy()
	ncf.Created = v1.Time{Time: created}
	ncf.Config.Labels = labels
	ncf.Config.WorkingDir = platform.LayersDir
	ncf.Config.User = fmt.Sprintf("%d:%d", uid, gid)
	img, err = mutate.ConfigFile(img, ncf)
	if err != nil {
		return nil, fmt.Errorf("create builder: %w", err)
	}
	return img, nil
}

func addendum(l v1.Layer, created time.Time, by string) mutate.Addendum {
	return mutate.Addendum{Layer: l, History: v1.History{Created: v1.Time{Time: created}, CreatedBy: by}}
}

// builderLabels keeps the build image's labels and adds the builder labels of
// docs/spec-notes.md, Builder labels.
func builderLabels(o CreateOptions, base map[string]string, infos []ModuleInfo, layers ModuleLayers) (map[string]string, error) {
	labels := map[string]string{}
	for k, v := range base {
		labels[k] = v
	}
	c := o.Config
	md := Metadata{
		Description: c.Description,
		Buildpacks:  infos,
		Images:      c.Run.Images,
		Lifecycle: LifecycleMetadata{
			Version: o.Version,
			API:     LifecycleAPI{Buildpack: api.BuildpackMin.String(), Platform: api.PlatformMin.String()},
			APIs:    lifecycleAPIs(),
		},
		CreatedBy: CreatorMetadata{Name: CreatorName, Version: o.Version},
	}
	if md.Buildpacks == nil {
		md.Buildpacks = []ModuleInfo{}
	}
	if len(c.Run.Images) > 0 {
		md.Stack.RunImage = RunImageMetadata{Image: c.Run.Images[0].Image, Mirrors: c.Run.Images[0].Mirrors}
	}
	if md.Stack.RunImage.Mirrors == nil {
		md.Stack.RunImage.Mirrors = []string{}
	}
	order := c.Order
	if order == nil {
		order = buildpack.Order{}
	}
	for k, v := range map[string]any{
		platform.LabelBuilderMetadata: md,
		platform.LabelBuildpackOrder:  order,
		platform.LabelBuildpackLayers: layers,
	} {
		s, err := encodeLabel(k, v)
		if err != nil {
			return nil, err
		}
		labels[k] = s
	}
	// The legacy stack id comes from the build image; builder.toml's [stack] id fills in
	// only when the build image has none (docs/spec-notes.md, Builder labels).
	if labels[platform.LabelStackID] == "" && c.Stack.ID != "" {
		labels[platform.LabelStackID] = c.Stack.ID
	}
	return labels, nil
}

func lifecycleAPIs() LifecycleAPIs {
	return LifecycleAPIs{
		Buildpack: APIVersions{Deprecated: []string{}, Supported: api.SupportedBuildpackAPIs()},
		Platform:  APIVersions{Deprecated: []string{}, Supported: api.SupportedPlatformAPIs()},
	}
}

// layerMediaType follows the base image's manifest family so no image mixes OCI and
// Docker media types.
func layerMediaType(img v1.Image) (types.MediaType, error) {
	mt, err := img.MediaType()
	if err != nil {
		return "", fmt.Errorf("read manifest media type: %w", err)
	}
	if mt == types.DockerManifestSchema2 {
		return types.DockerLayer, nil
	}
	return types.OCILayer, nil
}

// stackFile is the legacy /cnb/stack.toml older platforms read (docs/spec-notes.md, Builder image).
type stackFile struct {
	RunImage   RunImageTOML `toml:"run-image"`
	BuildImage struct {
		Image string `toml:"image"`
	} `toml:"build-image"`
}

// RunImageTOML is [run-image] of stack.toml.
type RunImageTOML struct {
	Image   string   `toml:"image"`
	Mirrors []string `toml:"mirrors,omitempty"`
}

// cnbFilesLayer writes the builder's platform files (docs/spec-notes.md, Builder image): order.toml,
// run.toml, stack.toml, system.toml (when set), build-config/env, /platform/env, and
// /workspace and /layers owned by the CNB user, mode 0755 as pack makes them.
func cnbFilesLayer(ctx context.Context, c *Config, uid, gid int, opts layer.Options) (*layer.Layer, error) {
	tmp, err := os.MkdirTemp(opts.ScratchDir, "builder-files-*")
	if err != nil {
		return nil, fmt.Errorf("write builder files: %w", err)
	}
	defer os.RemoveAll(tmp)
	files := map[string]any{
		"order.toml": platform.OrderFile{Order: c.Order},
		"run.toml":   platform.RunFile{Images: c.Run.Images},
	}
	sf := stackFile{}
	if len(c.Run.Images) > 0 {
		sf.RunImage = RunImageTOML{Image: c.Run.Images[0].Image, Mirrors: c.Run.Images[0].Mirrors}
	}
	sf.BuildImage.Image = c.Build.Image
	files["stack.toml"] = sf
	if len(c.System.Pre.Buildpacks) > 0 || len(c.System.Post.Buildpacks) > 0 {
		files["system.toml"] = platform.SystemFile{System: c.System}
	}
	root := layer.Owner{Mode: 0o755}
	entries := []layer.Entry{
		{Type: layer.EntryDir, Path: platform.CNBDir, Owner: root},
		{Type: layer.EntryDir, Path: platform.BuildConfigDir, Owner: root},
		{Type: layer.EntryDir, Path: platform.BuildConfigDir + "/env", Owner: root},
	}
	envFiles := map[string]string{}
	for _, e := range c.Build.Env {
		name := e.Name
		if e.Suffix != "" {
			name += "." + e.Suffix
		}
		envFiles[name] = e.Value
		if e.Delim != "" {
			envFiles[e.Name+".delim"] = e.Delim
		}
	}
	envNames := make([]string, 0, len(envFiles))
	for n := range envFiles {
		envNames = append(envNames, n)
	}
	sort.Strings(envNames)
	if err := os.MkdirAll(filepath.Join(tmp, "env"), 0o755); err != nil {
		return nil, fmt.Errorf("write builder files: %w", err)
	}
	for _, n := range envNames {
		p := filepath.Join(tmp, "env", n)
		if err := os.WriteFile(p, []byte(envFiles[n]), 0o644); err != nil {
			return nil, fmt.Errorf("write operator env %s: %w", n, err)
		}
		entries = append(entries, layer.Entry{Type: layer.EntryFile, Path: platform.BuildConfigDir + "/env/" + n, HostPath: p, Owner: layer.Owner{Mode: 0o644}})
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(tmp, n)
		if err := tomlfile.Write(p, files[n]); err != nil {
			return nil, fmt.Errorf("write builder %s: %w", n, err)
		}
		entries = append(entries, layer.Entry{Type: layer.EntryFile, Path: platform.CNBDir + "/" + n, HostPath: p, Owner: layer.Owner{Mode: 0o644}})
	}
	user := layer.Owner{UID: uid, GID: gid, Mode: 0o755}
	entries = append(entries,
		layer.Entry{Type: layer.EntryDir, Path: platform.LayersDir, Owner: user},
		layer.Entry{Type: layer.EntryDir, Path: platform.PlatformDir, Owner: root},
		layer.Entry{Type: layer.EntryDir, Path: platform.PlatformDir + "/env", Owner: root},
		layer.Entry{Type: layer.EntryDir, Path: platform.AppDir, Owner: user},
	)
	l, err := layer.FromEntries(ctx, entries, opts)
	if err != nil {
		return nil, fmt.Errorf("archive builder files: %w", err)
	}
	return l, nil
}

// lifecycleFile is /cnb/lifecycle/lifecycle.toml (docs/spec-notes.md, lifecycle.toml).
type lifecycleFile struct {
	APIs struct {
		Buildpack APIVersionsTOML `toml:"buildpack"`
		Platform  APIVersionsTOML `toml:"platform"`
	} `toml:"apis"`
	API struct {
		Buildpack string `toml:"buildpack"`
		Platform  string `toml:"platform"`
	} `toml:"api"`
	Lifecycle struct {
		Version     string   `toml:"version"`
		SBOMFormats []string `toml:"sbom-formats"`
	} `toml:"lifecycle"`
}

// APIVersionsTOML is [apis.buildpack] or [apis.platform] of lifecycle.toml.
type APIVersionsTOML struct {
	Deprecated []string `toml:"deprecated"`
	Supported  []string `toml:"supported"`
}

// lifecycleLayer installs Slipway as the builder's lifecycle (platform.md, Platform API Compatibility; docs/spec-notes.md, Builder image).
func lifecycleLayer(ctx context.Context, o CreateOptions, opts layer.Options) (*layer.Layer, error) {
	if o.LifecycleBinary == "" || o.LauncherPath == "" {
		return nil, errors.New("lifecycle layer: the slipway binary and the launcher paths are required")
	}
	tmp, err := os.MkdirTemp(opts.ScratchDir, "builder-lifecycle-*")
	if err != nil {
		return nil, fmt.Errorf("write lifecycle.toml: %w", err)
	}
	defer os.RemoveAll(tmp)
	var lf lifecycleFile
	apis := lifecycleAPIs()
	lf.APIs.Buildpack = APIVersionsTOML(apis.Buildpack)
	lf.APIs.Platform = APIVersionsTOML(apis.Platform)
	lf.API.Buildpack, lf.API.Platform = api.BuildpackMin.String(), api.PlatformMin.String()
	lf.Lifecycle.Version = o.Version
	lf.Lifecycle.SBOMFormats = []string{buildpack.MediaTypeCycloneDX, buildpack.MediaTypeSPDX, buildpack.MediaTypeSyft}
	tomlPath := filepath.Join(tmp, "lifecycle.toml")
	if err := tomlfile.Write(tomlPath, lf); err != nil {
		return nil, fmt.Errorf("write lifecycle.toml: %w", err)
	}
	root := layer.Owner{Mode: 0o755}
	dir := platform.LifecycleDir
	entries := []layer.Entry{
		{Type: layer.EntryDir, Path: platform.CNBDir, Owner: root},
		{Type: layer.EntryDir, Path: dir, Owner: root},
	}
	byName := map[string]layer.Entry{
		"lifecycle":      {Type: layer.EntryFile, Path: dir + "/lifecycle", HostPath: o.LifecycleBinary, Owner: root},
		"launcher":       {Type: layer.EntryFile, Path: platform.LauncherPath, HostPath: o.LauncherPath, Owner: root},
		"lifecycle.toml": {Type: layer.EntryFile, Path: dir + "/lifecycle.toml", HostPath: tomlPath, Owner: layer.Owner{Mode: 0o644}},
	}
	for _, p := range o.Phases {
		if _, taken := byName[p]; taken || p == "" || strings.ContainsAny(p, "/.") {
			return nil, fmt.Errorf("lifecycle layer: phase name %q cannot be a /cnb/lifecycle link", p)
		}
		byName[p] = layer.Entry{Type: layer.EntrySymlink, Path: dir + "/" + p, Target: "lifecycle", Owner: layer.Owner{Mode: 0o777}}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		entries = append(entries, byName[n])
	}
	l, err := layer.FromEntries(ctx, entries, opts)
	if err != nil {
		return nil, fmt.Errorf("archive lifecycle: %w", err)
	}
	return l, nil
}
