package builder

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/slipway/slipway/buildpack"
	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/untar"
)

// FromImage reads a builder image, Slipway's or one made by `pack builder create`
// (docs/spec-notes.md, Builder image; docs/spec-notes.md, Builder labels). It extracts every buildpack listed in io.buildpacks.buildpack.layers
// (found by its layerDiffID) to <destBuildpacksDir>/<escaped id>/<version>/ and returns a
// Config with the image's order, run images (metadata images, else the deprecated
// stack.runImage) and description; Buildpacks lists the extracted directories. Build.Image is
// left empty: the builder image itself is the build image, and only the caller knows its name.
func FromImage(ctx context.Context, img v1.Image, destBuildpacksDir string) (*Config, error) {
	return fromImage(ctx, img, destBuildpacksDir, true)
}

// FromExtractedImage is FromImage for a builder whose buildpacks an earlier FromImage
// already extracted to buildpacksDir: it reads the labels and descriptors, extracting nothing.
func FromExtractedImage(ctx context.Context, img v1.Image, buildpacksDir string) (*Config, error) {
	return fromImage(ctx, img, buildpacksDir, false)
}

func fromImage(ctx context.Context, img v1.Image, destBuildpacksDir string, extract bool) (*Config, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read builder image config: %w", err)
	}
	labels := cf.Config.Labels
	var md Metadata
	ok, err := decodeLabel(labels, platform.LabelBuilderMetadata, &md)
	if err != nil {
		return nil, fmt.Errorf("read builder image: %w", err)
	}
	if !ok {
		return nil, fmt.Errorf("read builder image: no %s label, so this is not a builder image; pass a builder image (pack or slipway builder create) or a builder.toml", platform.LabelBuilderMetadata)
	}
	var order buildpack.Order
	if _, err := decodeLabel(labels, platform.LabelBuildpackOrder, &order); err != nil {
		return nil, fmt.Errorf("read builder image: %w", err)
	}
	mods := ModuleLayers{}
	if _, err := decodeLabel(labels, platform.LabelBuildpackLayers, &mods); err != nil {
		return nil, fmt.Errorf("read builder image: %w", err)
	}
	var descs []*buildpack.Descriptor
	if extract {
		descs, err = extractModules(ctx, img, mods, destBuildpacksDir)
	} else {
		descs, err = readModules(mods, destBuildpacksDir)
	}
	if err != nil {
		return nil, fmt.Errorf("read builder image: %w", err)
	}
	c := &Config{Description: md.Description, Order: order, Dir: destBuildpacksDir}
	c.Run.Images = md.Images
	if len(c.Run.Images) == 0 && md.Stack.RunImage.Image != "" {
		c.Run.Images = []platform.RunImage{{Image: md.Stack.RunImage.Image, Mirrors: md.Stack.RunImage.Mirrors}}
	}
	c.Stack.ID = labels[platform.LabelStackID]
	for _, d := range descs {
		c.Buildpacks = append(c.Buildpacks, BuildpackConfig{ID: d.Buildpack.ID, Version: d.Buildpack.Version, URI: d.Dir})
	}
	return c, nil
}

// LayoutBuildpackage extracts every buildpack of a buildpackage image (distribution.md, Buildpackage)
// to <destBuildpacksDir>/<escaped id>/<version>/. The entrypoint buildpack named by
// io.buildpacks.buildpackage.metadata comes first; the others follow by id and version.
func LayoutBuildpackage(ctx context.Context, img v1.Image, destBuildpacksDir string) ([]*buildpack.Descriptor, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read buildpackage config: %w", err)
	}
	var md BuildpackageMetadata
	ok, err := decodeLabel(cf.Config.Labels, platform.LabelBuildpackageMetadata, &md)
	if err != nil {
		return nil, fmt.Errorf("read buildpackage: %w", err)
	}
	if !ok {
		return nil, fmt.Errorf("read buildpackage: no %s label, so this is not a buildpackage", platform.LabelBuildpackageMetadata)
	}
	mods := ModuleLayers{}
	if _, err := decodeLabel(cf.Config.Labels, platform.LabelBuildpackLayers, &mods); err != nil {
		return nil, fmt.Errorf("read buildpackage %s@%s: %w", md.ID, md.Version, err)
	}
	if _, ok := mods[md.ID][md.Version]; !ok {
		return nil, fmt.Errorf("read buildpackage: its entrypoint %s@%s is not in the %s label", md.ID, md.Version, platform.LabelBuildpackLayers)
	}
	descs, err := extractModules(ctx, img, mods, destBuildpacksDir)
	if err != nil {
		return nil, fmt.Errorf("read buildpackage %s@%s: %w", md.ID, md.Version, err)
	}
	sort.SliceStable(descs, func(i, j int) bool {
		return descs[i].Buildpack.ID == md.ID && descs[i].Buildpack.Version == md.Version
	})
	return descs, nil
}

// LayoutBuildpackageFile is LayoutBuildpackage for a .cnb file: an uncompressed tar of an
// OCI image layout, as pack writes it (distribution.md, Buildpackage). A layout with several images
// (a multi-platform index) is not supported yet.
func LayoutBuildpackageFile(ctx context.Context, cnbPath, destBuildpacksDir string) ([]*buildpack.Descriptor, error) {
	if err := os.MkdirAll(destBuildpacksDir, 0o755); err != nil {
		return nil, fmt.Errorf("read buildpackage %s: %w", cnbPath, err)
	}
	tmp, err := os.MkdirTemp(destBuildpacksDir, ".cnb-*")
	if err != nil {
		return nil, fmt.Errorf("read buildpackage %s: %w", cnbPath, err)
	}
	defer os.RemoveAll(tmp)
	img, err := ReadCNB(ctx, cnbPath, tmp)
	if err != nil {
		return nil, err
	}
	descs, err := LayoutBuildpackage(ctx, img, destBuildpacksDir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cnbPath, err)
	}
	return descs, nil
}

// ReadCNB unpacks the .cnb file cnbPath into the empty directory dir and returns the image of
// its OCI layout; the image reads from dir, which must outlive it.
func ReadCNB(ctx context.Context, cnbPath, dir string) (v1.Image, error) {
	if err := extract(ctx, cnbPath, dir); err != nil {
		return nil, fmt.Errorf("read buildpackage %s: %w", cnbPath, err)
	}
	lp, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("read buildpackage %s: not a tar of an OCI image layout (oci-layout, index.json, blobs/): %w", cnbPath, err)
	}
	idx, err := lp.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("read buildpackage %s: %w", cnbPath, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("read buildpackage %s: %w", cnbPath, err)
	}
	if len(im.Manifests) != 1 {
		return nil, fmt.Errorf("read buildpackage %s: its index.json lists %d manifests; want exactly one image", cnbPath, len(im.Manifests))
	}
	img, err := lp.Image(im.Manifests[0].Digest)
	if err != nil {
		return nil, fmt.Errorf("read buildpackage %s: %w", cnbPath, err)
	}
	return img, nil
}

// extractModules extracts each buildpack of mods from its layer in img into
// <dest>/<escaped id>/<version>/, replacing earlier copies, and returns their descriptors
// sorted by id and version. A layer holding several buildpacks is read once.
// readModules reads the descriptors of already extracted modules, in id and version order.
func readModules(mods ModuleLayers, dir string) ([]*buildpack.Descriptor, error) {
	var out []*buildpack.Descriptor
	for id, versions := range mods {
		for version := range versions {
			if err := buildpack.ValidateRef(id, version); err != nil {
				return nil, fmt.Errorf("label %s: %w", platform.LabelBuildpackLayers, err)
			}
			d, err := buildpack.ReadDescriptor(filepath.Join(dir, buildpack.EscapedID(id), version))
			if err != nil {
				return nil, err
			}
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ref() < out[j].Ref() })
	return out, nil
}

func extractModules(ctx context.Context, img v1.Image, mods ModuleLayers, dest string) ([]*buildpack.Descriptor, error) {
	byLayer := map[string][]moduleRef{}
	var diffIDs []string
	for id, versions := range mods {
		for version, info := range versions {
			// The label's id and version become extraction paths.
			if err := buildpack.ValidateRef(id, version); err != nil {
				return nil, fmt.Errorf("label %s: %w", platform.LabelBuildpackLayers, err)
			}
			if info.LayerDiffID == "" {
				return nil, fmt.Errorf("%s@%s has no layerDiffID in %s", id, version, platform.LabelBuildpackLayers)
			}
			if byLayer[info.LayerDiffID] == nil {
				diffIDs = append(diffIDs, info.LayerDiffID)
			}
			byLayer[info.LayerDiffID] = append(byLayer[info.LayerDiffID], moduleRef{id, version})
		}
	}
	sort.Strings(diffIDs)
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return nil, fmt.Errorf("create buildpacks directory %s: %w", dest, err)
	}
	var out []*buildpack.Descriptor
	for _, diffID := range diffIDs {
		h, err := v1.NewHash(diffID)
		if err != nil {
			return nil, fmt.Errorf("layerDiffID %q: %w", diffID, err)
		}
		l, err := img.LayerByDiffID(h)
		if err != nil {
			return nil, fmt.Errorf("layer %s listed in %s is not in the image: %w", diffID, platform.LabelBuildpackLayers, err)
		}
		stage, err := os.MkdirTemp(dest, ".stage-*")
		if err != nil {
			return nil, fmt.Errorf("extract layer %s: %w", diffID, err)
		}
		descs, err := extractLayerModules(ctx, l, stage, dest, byLayer[diffID])
		os.RemoveAll(stage)
		if err != nil {
			return nil, fmt.Errorf("extract layer %s: %w", diffID, err)
		}
		out = append(out, descs...)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Buildpack.ID != out[j].Buildpack.ID {
			return out[i].Buildpack.ID < out[j].Buildpack.ID
		}
		return out[i].Buildpack.Version < out[j].Buildpack.Version
	})
	return out, nil
}

// moduleRef is one id@version.
type moduleRef struct{ id, version string }

func extractLayerModules(ctx context.Context, l v1.Layer, stage, dest string, want []moduleRef) ([]*buildpack.Descriptor, error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if err := extractBuildpacksTree(ctx, rc, stage); err != nil {
		return nil, err
	}
	var out []*buildpack.Descriptor
	for _, m := range want {
		tree := filepath.Join(stage, buildpack.EscapedID(m.id), m.version)
		if _, err := os.Stat(filepath.Join(tree, "buildpack.toml")); err != nil {
			return nil, fmt.Errorf("%s@%s: the layer has no %s/buildpack.toml", m.id, m.version, BuildpackImageDir(m.id, m.version))
		}
		d, err := install(tree, dest)
		if err != nil {
			return nil, err
		}
		if d.Buildpack.ID != m.id || d.Buildpack.Version != m.version {
			return nil, fmt.Errorf("the layer listed for %s@%s holds %s", m.id, m.version, d.Ref())
		}
		out = append(out, d)
	}
	return out, nil
}

// buildpacksPrefix is where buildpacks live in image layers; Windows layers put the same
// tree under Files/ (distribution.md, Buildpackage).
const buildpacksPrefix = "cnb/buildpacks/"

// extractBuildpacksTree streams a layer tar and writes the entries below /cnb/buildpacks/
// into dir (as <escaped id>/<version>/…); other entries are skipped. Archive semantics
// apply (untar.Options): nothing lands outside dir, hard links only to files extracted
// earlier, sparse entries refused, the size bounded.
func extractBuildpacksTree(ctx context.Context, r io.Reader, dir string) error {
	return untar.Into(ctx, r, dir, untar.Options{AbsoluteNames: true, Select: func(name string) (string, bool) {
		rel, ok := strings.CutPrefix(strings.TrimPrefix(name, "Files/"), buildpacksPrefix)
		return rel, ok && rel != ""
	}})
}

// ResolveBuildpackages prepares cfg for FetchBuildpacks, which reads only directories and
// archives: every [[buildpacks]] entry naming a buildpackage — an image, or a uri of a .cnb
// file — is laid out under scratchDir and replaced by one entry per buildpack it holds
// (pack accepts both forms, distribution.md, Buildpackage). fetch resolves images; nil refuses them.
func ResolveBuildpackages(ctx context.Context, cfg *Config, scratchDir string, fetch ImageFetcher) error {
	where := cfg.Path
	if where == "" {
		where = "builder config"
	}
	var out []BuildpackConfig
	for i, bc := range cfg.Buildpacks {
		var descs []*buildpack.Descriptor
		switch {
		case bc.Image != "":
			if fetch == nil {
				return fmt.Errorf("%s: [[buildpacks]] entry %d: buildpackage image %s cannot be fetched here", where, i+1, bc.Image)
			}
			img, err := fetch(ctx, bc.Image)
			if err != nil {
				return fmt.Errorf("%s: [[buildpacks]] entry %d: %w", where, i+1, err)
			}
			if descs, err = LayoutBuildpackage(ctx, img, scratchDir); err != nil {
				return fmt.Errorf("%s: [[buildpacks]] entry %d: buildpackage image %s: %w", where, i+1, bc.Image, err)
			}
		case IsRemoteURI(bc.URI):
			out = append(out, bc) // fetched by FetchBuildpacks
			continue
		default:
			p, err := localPath(cfg.Dir, bc.URI)
			if err != nil {
				return fmt.Errorf("%s: [[buildpacks]] entry %d: %w", where, i+1, err)
			}
			fi, err := os.Stat(p)
			if err != nil || fi.IsDir() {
				out = append(out, bc) // FetchBuildpacks reports a missing path with context
				continue
			}
			cnb, err := isOCILayoutTar(p)
			if err != nil {
				return fmt.Errorf("%s: [[buildpacks]] entry %d: %w", where, i+1, err)
			}
			if !cnb {
				out = append(out, bc)
				continue
			}
			if descs, err = LayoutBuildpackageFile(ctx, p, scratchDir); err != nil {
				return fmt.Errorf("%s: [[buildpacks]] entry %d: %w", where, i+1, err)
			}
		}
		entry := descs[0]
		if (bc.ID != "" && bc.ID != entry.Buildpack.ID) || (bc.Version != "" && bc.Version != entry.Buildpack.Version) {
			return fmt.Errorf("%s: [[buildpacks]] entry %d: config says %s but the buildpackage holds %s; fix the id/version or the uri", where, i+1, bpName(bc), entry.Ref())
		}
		for _, d := range descs {
			out = append(out, BuildpackConfig{URI: d.Dir})
		}
	}
	cfg.Buildpacks = out
	return nil
}
