package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/slipway/slipway/builder"
	"github.com/slipway/slipway/buildpack"
	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/project"
)

// projectFile wraps an optional project.toml.
type projectFile struct {
	path string
	d    *project.Descriptor // nil when the app has none
}

func readProject(appDir, descriptor string) (*projectFile, error) {
	path := descriptor
	if path == "" {
		path = filepath.Join(appDir, "project.toml")
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return &projectFile{}, nil
		}
	}
	d, err := project.Read(path)
	if err != nil {
		return nil, err
	}
	return &projectFile{path: path, d: d}, nil
}

func (p *projectFile) includes() []string {
	if p.d == nil {
		return nil
	}
	return p.d.Include
}

func (p *projectFile) excludes() []string {
	if p.d == nil {
		return nil
	}
	return p.d.Exclude
}

func (p *projectFile) env() []project.EnvVar {
	if p.d == nil {
		return nil
	}
	return p.d.Env
}

// metadata is io.buildpacks.project.metadata: pack records project.toml's version and
// source-url as a source of type "project".
func (p *projectFile) metadata() platform.ProjectMetadata {
	if p.d == nil || (p.d.Version == "" && p.d.SourceURL == "") {
		return platform.ProjectMetadata{}
	}
	src := &platform.ProjectSource{Type: "project"}
	if p.d.Version != "" {
		src.Version = map[string]any{"declared": p.d.Version}
	}
	if p.d.SourceURL != "" {
		src.Metadata = map[string]any{"url": p.d.SourceURL}
	}
	return platform.ProjectMetadata{Source: src}
}

// prepareBuildpacks lays out every buildpack the build may use under <cnb>/buildpacks and
// returns the order to detect with: the builder's order, replaced (like pack) by
// --buildpack flags or by project.toml's buildpacks, with project pre/post groups added.
func prepareBuildpacks(ctx context.Context, cfg *builder.Config, proj *projectFile, o Options, dirs *appDirs) (buildpack.Order, error) {
	bpDir := filepath.Join(dirs.cnb, "buildpacks")
	fetchCache := ""
	if o.WorkDir != "" {
		fetchCache = filepath.Join(o.WorkDir, "fetched-buildpacks")
	}
	cfg.FetchCacheDir = fetchCache
	if _, err := builder.FetchBuildpacks(ctx, cfg, bpDir); err != nil {
		return nil, err
	}
	var refs []project.BuildpackRef
	var pre, post []project.BuildpackRef
	base := dirs.root
	if proj.d != nil {
		refs, pre, post = proj.d.Buildpacks, proj.d.Pre, proj.d.Post
		base = filepath.Dir(proj.path)
	}
	if len(o.Buildpacks) > 0 {
		refs = nil
		base = "."
		for _, f := range o.Buildpacks {
			refs = append(refs, buildpackFlag(f))
		}
	}
	src := imageSource{store: o.Store, reg: o.Registry}
	toElements := func(refs []project.BuildpackRef) ([]buildpack.GroupElement, error) {
		var out []buildpack.GroupElement
		for _, r := range refs {
			var descs []*buildpack.Descriptor
			var err error
			switch {
			case r.Script != nil:
				var dir string
				if dir, err = project.MaterializeScript(r, bpDir); err == nil {
					var d *buildpack.Descriptor
					d, err = buildpack.ReadDescriptor(dir)
					descs = []*buildpack.Descriptor{d}
				}
			case strings.HasPrefix(r.URI, "docker://"):
				// A buildpackage image (distribution.md, Buildpackage), from the store or its registry.
				ref := strings.TrimPrefix(r.URI, "docker://")
				var img *resolvedImage
				if img, err = resolveImage(ctx, src, ref); err == nil {
					descs, err = builder.LayoutBuildpackage(ctx, img.Image, bpDir)
				}
			case builder.IsRemoteURI(r.URI):
				// An http(s) archive or a git repository, fetched once into the cache.
				descs, err = builder.LayoutBuildpackURI(ctx, r.URI, fetchCache, bpDir)
			case r.URI != "":
				// A directory, .tgz or .cnb buildpackage.
				uri := strings.TrimPrefix(r.URI, "file://")
				if !filepath.IsAbs(uri) {
					uri = filepath.Join(base, uri)
				}
				descs, err = builder.LayoutBuildpackPath(ctx, uri, bpDir)
			default:
				if _, err := buildpack.FindDescriptor(bpDir, r.ID, r.Version); err != nil {
					return nil, fmt.Errorf("buildpack %s is not in the builder: %w", r.Ref(), err)
				}
				out = append(out, buildpack.GroupElement{ID: r.ID, Version: r.Version})
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("buildpack %s: %w", r.Ref(), err)
			}
			// The first descriptor is the one named (a buildpackage's entrypoint); the
			// others are its dependencies, laid out for a composite's order.
			out = append(out, buildpack.GroupElement{ID: descs[0].Buildpack.ID, Version: descs[0].Buildpack.Version})
		}
		return out, nil
	}
	order := cfg.Order
	if len(refs) > 0 {
		group, err := toElements(refs)
		if err != nil {
			return nil, err
		}
		order = buildpack.Order{{Group: group}}
	}
	preEls, err := toElements(pre)
	if err != nil {
		return nil, err
	}
	postEls, err := toElements(post)
	if err != nil {
		return nil, err
	}
	if len(preEls)+len(postEls) > 0 {
		withPrePost := make(buildpack.Order, len(order))
		for i, g := range order {
			els := append(append(append([]buildpack.GroupElement{}, preEls...), g.Group...), postEls...)
			withPrePost[i] = buildpack.Group{Group: els}
		}
		order = withPrePost
	}
	if len(order) == 0 {
		return nil, errors.New("no buildpacks to run: the builder has no [[order]] and no --buildpack was given")
	}
	return order, nil
}

// buildpackFlag reads one --buildpack value like pack: an existing path (directory, .tgz or
// .cnb), docker://IMAGE (a buildpackage image), or id[@version] of a builder buildpack.
func buildpackFlag(f string) project.BuildpackRef {
	if _, err := os.Stat(f); err == nil {
		return project.BuildpackRef{URI: f}
	}
	if strings.HasPrefix(f, "docker://") || strings.HasPrefix(f, "file://") || builder.IsRemoteURI(f) {
		return project.BuildpackRef{URI: f}
	}
	id, version, _ := strings.Cut(f, "@")
	return project.BuildpackRef{ID: id, Version: version}
}

// writePlatformEnv writes project.toml's env and --env values as <platform>/env files
// (platform.md, User-Provided Variables; flags win over project.toml, like pack).
func writePlatformEnv(platformDir string, projEnv []project.EnvVar, flags []string) error {
	dir := filepath.Join(platformDir, "env")
	write := func(name, value, from string) error {
		if name == "" || strings.ContainsAny(name, "/=\x00") {
			return fmt.Errorf("%s: invalid environment variable name %q", from, name)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(value), 0o644); err != nil {
			return fmt.Errorf("write platform env %s: %w", name, err)
		}
		return nil
	}
	for _, e := range projEnv {
		if err := write(e.Name, e.Value, "project.toml"); err != nil {
			return err
		}
	}
	for _, kv := range flags {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("--env %q: want KEY=VALUE", kv)
		}
		if err := write(k, v, "--env"); err != nil {
			return err
		}
	}
	return nil
}

// writeBuildConfigEnv writes the builder's [[build.env]] as operator env files
// (<build-config>/env/<NAME>[.<suffix>], platform.md, Operator-Defined Variables).
func writeBuildConfigEnv(dir string, env []builder.BuildEnv) error {
	write := func(name, value string) error {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(value), 0o644); err != nil {
			return fmt.Errorf("write operator env %s: %w", name, err)
		}
		return nil
	}
	for _, e := range env {
		name := e.Name
		if e.Suffix != "" {
			name += "." + e.Suffix
		}
		if err := write(name, e.Value); err != nil {
			return err
		}
		if e.Delim != "" {
			if err := write(e.Name+".delim", e.Delim); err != nil {
				return err
			}
		}
	}
	return nil
}
