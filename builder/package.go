package builder

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/slipway/slipway/atomicfile"
	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/tomlfile"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/slipway/slipway/buildpack"
	"github.com/slipway/slipway/layer"
)

// PackageConfig is a package.toml in pack's `buildpack package --config` format
// (distribution.md, Buildpackage).
type PackageConfig struct {
	Buildpack    PackageURI          `toml:"buildpack"`
	Dependencies []PackageDependency `toml:"dependencies"`
	Platform     PackagePlatform     `toml:"platform"`

	// Path is the file read; Dir is its directory, against which relative uris resolve.
	Path string `toml:"-"`
	Dir  string `toml:"-"`
}

// PackageURI is [buildpack]: the entrypoint buildpack, a directory or .tgz.
type PackageURI struct {
	URI string `toml:"uri"`
}

// PackageDependency is one [[dependencies]] entry: a buildpack (directory, .tgz or .cnb)
// by uri, or a buildpackage image.
type PackageDependency struct {
	URI   string `toml:"uri"`
	Image string `toml:"image"`
}

// PackagePlatform is [platform]; only os = "linux" is supported.
type PackagePlatform struct {
	OS string `toml:"os"`
}

// ReadPackageConfig reads and validates the package.toml at path. Syntax errors carry the
// file and line/column; other errors name the file and the key to fix.
func ReadPackageConfig(path string) (*PackageConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read package config %s: %w", path, err)
	}
	var c PackageConfig
	md, err := tomlfile.Decode(b, path, &c)
	if err != nil {
		return nil, err
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		sort.Strings(keys)
		return nil, fmt.Errorf("%s: unknown keys %s", path, strings.Join(keys, ", "))
	}
	c.Path, c.Dir = path, filepath.Dir(path)
	if c.Buildpack.URI == "" {
		return nil, fmt.Errorf("%s: no buildpack: set [buildpack] uri", path)
	}
	switch c.Platform.OS {
	case "", "linux":
		c.Platform.OS = "linux"
	default:
		return nil, fmt.Errorf("%s: [platform] os %q is not supported; Slipway packages linux buildpacks only", path, c.Platform.OS)
	}
	for i, d := range c.Dependencies {
		if (d.URI == "") == (d.Image == "") {
			return nil, fmt.Errorf("%s: [[dependencies]] entry %d: set exactly one of uri or image", path, i+1)
		}
	}
	return &c, nil
}

// ImageFetcher returns the image named ref, from wherever the caller keeps images (the
// local store, a registry).
type ImageFetcher func(ctx context.Context, ref string) (v1.Image, error)

// PackageOptions are the inputs of Package.
type PackageOptions struct {
	Config *PackageConfig
	// FetchImage resolves [[dependencies]] image entries; nil refuses them.
	FetchImage ImageFetcher
	// ScratchDir holds layer blobs and laid-out buildpacks; "" means os.TempDir(). Layer
	// blobs stay there until the caller has written the image.
	ScratchDir string
	// Created is the image creation time; zero means the reproducible epoch.
	Created time.Time
}

// Package makes a buildpackage (distribution.md, Buildpackage): an image with one layer per
// buildpack (the entrypoint and every dependency, nested ones included), each at
// /cnb/buildpacks/<escaped id>/<version>/ with pack's normalized owners and modes, and the
// labels io.buildpacks.buildpackage.metadata and io.buildpacks.buildpack.layers. A composite
// entrypoint must find every buildpack of its order among the dependencies. Equal inputs
// give an equal digest.
func Package(ctx context.Context, o PackageOptions) (v1.Image, error) {
	c := o.Config
	if c == nil {
		return nil, errors.New("package buildpack: Config is required")
	}
	where := c.Path
	if where == "" {
		where = "package config"
	}
	work, err := os.MkdirTemp(o.ScratchDir, "package-*")
	if err != nil {
		return nil, fmt.Errorf("package buildpack: %w", err)
	}
	defer os.RemoveAll(work)
	bpDir := filepath.Join(work, "buildpacks")

	main, err := fetchModule(ctx, c.Dir, c.Buildpack.URI, "", bpDir, o.FetchImage)
	if err != nil {
		return nil, fmt.Errorf("%s: [buildpack] uri %s: %w", where, c.Buildpack.URI, err)
	}
	entry := main[0]
	all := map[string]*buildpack.Descriptor{}
	for _, d := range main {
		all[d.Ref()] = d
	}
	for i, dep := range c.Dependencies {
		ds, err := fetchModule(ctx, c.Dir, dep.URI, dep.Image, bpDir, o.FetchImage)
		if err != nil {
			return nil, fmt.Errorf("%s: [[dependencies]] entry %d (%s%s): %w", where, i+1, dep.URI, dep.Image, err)
		}
		for _, d := range ds {
			all[d.Ref()] = d
		}
	}
	refs := make([]string, 0, len(all))
	for r := range all {
		refs = append(refs, r)
	}
	sort.Strings(refs)
	// pack refuses a composite whose children are missing: the package would not detect.
	for _, r := range refs {
		for _, g := range all[r].Order {
			for _, e := range g.Group {
				if !hasModule(all, e.ID, e.Version) {
					return nil, fmt.Errorf("%s: composite buildpack %s needs %s, which is neither a dependency nor inside one; add it to [[dependencies]]", where, r, e.Ref())
				}
			}
		}
	}

	created := o.Created
	if created.IsZero() {
		created = layer.Epoch()
	}
	lopts := layer.Options{ScratchDir: o.ScratchDir, MediaType: types.OCILayer, ModTime: layer.Epoch()}
	mods := ModuleLayers{}
	var addenda []mutate.Addendum
	for _, r := range refs {
		d := all[r]
		l, err := buildpackLayer(ctx, d, lopts)
		if err != nil {
			return nil, fmt.Errorf("package buildpack %s: %w", entry.Ref(), err)
		}
		diffID, _ := l.DiffID()
		mods.add(d.Buildpack.ID, d.Buildpack.Version, layerInfo(d, diffID))
		addenda = append(addenda, addendum(l, created, "Buildpack: "+d.Ref()))
	}
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	img, err := mutate.Append(base, addenda...)
	if err != nil {
		return nil, fmt.Errorf("package buildpack %s: %w", entry.Ref(), err)
	}
	stacks := entry.Stacks
	if stacks == nil {
		stacks = []buildpack.Stack{}
	}
	labels := map[string]string{}
	for k, v := range map[string]any{
		platform.LabelBuildpackageMetadata: BuildpackageMetadata{ID: entry.Buildpack.ID, Version: entry.Buildpack.Version, Name: entry.Buildpack.Name, Homepage: entry.Buildpack.Homepage, Stacks: stacks},
		platform.LabelBuildpackLayers:      mods,
	} {
		s, err := encodeLabel(k, v)
		if err != nil {
			return nil, err
		}
		labels[k] = s
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("package buildpack %s: %w", entry.Ref(), err)
	}
	cf = cf.DeepCopy()
	cf.Created = v1.Time{Time: created}
	cf.OS = c.Platform.OS
	cf.Architecture = runtime.GOARCH
	cf.Config.Labels = labels
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("package buildpack %s: %w", entry.Ref(), err)
	}
	return img, nil
}

func hasModule(all map[string]*buildpack.Descriptor, id, version string) bool {
	if version != "" {
		_, ok := all[id+"@"+version]
		return ok
	}
	for _, d := range all {
		if d.Buildpack.ID == id {
			return true
		}
	}
	return false
}

// fetchModule lays out what uri or image names — a buildpack directory, a .tgz, a .cnb
// buildpackage or a buildpackage image — under dest, and returns its buildpacks, the
// entrypoint first.
func fetchModule(ctx context.Context, baseDir, uri, image, dest string, fetch ImageFetcher) ([]*buildpack.Descriptor, error) {
	if image != "" {
		if fetch == nil {
			return nil, fmt.Errorf("buildpackage image %s: images cannot be fetched here", image)
		}
		img, err := fetch(ctx, image)
		if err != nil {
			return nil, err
		}
		return LayoutBuildpackage(ctx, img, dest)
	}
	if IsRemoteURI(uri) {
		return LayoutBuildpackURI(ctx, uri, "", dest)
	}
	p, err := localPath(baseDir, uri)
	if err != nil {
		return nil, err
	}
	return LayoutBuildpackPath(ctx, p, dest)
}

// LayoutBuildpackPath lays out the buildpack(s) at the local path p — a buildpack
// directory, a .tgz/.tar archive, or a .cnb buildpackage — under
// <destBuildpacksDir>/<escaped id>/<version>/, the form `--buildpack` accepts. The
// entrypoint comes first.
func LayoutBuildpackPath(ctx context.Context, p, destBuildpacksDir string) ([]*buildpack.Descriptor, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("buildpack %s: %w", p, err)
	}
	if fi.IsDir() {
		d, err := LayoutBuildpackDir(ctx, p, destBuildpacksDir)
		if err != nil {
			return nil, err
		}
		return []*buildpack.Descriptor{d}, nil
	}
	isCNB, err := isOCILayoutTar(p)
	if err != nil {
		return nil, err
	}
	if isCNB {
		return LayoutBuildpackageFile(ctx, p, destBuildpacksDir)
	}
	if err := os.MkdirAll(destBuildpacksDir, 0o755); err != nil {
		return nil, fmt.Errorf("buildpack %s: %w", p, err)
	}
	d, err := layoutArchive(ctx, p, destBuildpacksDir)
	if err != nil {
		return nil, err
	}
	return []*buildpack.Descriptor{d}, nil
}

// isOCILayoutTar reports whether p is an uncompressed tar with an oci-layout entry at its
// root: a .cnb, whatever its file name (distribution.md, Buildpackage).
func isOCILayoutTar(p string) (bool, error) {
	f, err := os.Open(p)
	if err != nil {
		return false, fmt.Errorf("buildpack %s: %w", p, err)
	}
	defer f.Close()
	tr := tar.NewReader(bufio.NewReader(f))
	for {
		hdr, err := tr.Next()
		if err != nil {
			// Not a tar (e.g. gzip), or a tar without oci-layout: an ordinary archive.
			return false, nil
		}
		if strings.TrimPrefix(hdr.Name, "./") == "oci-layout" {
			return true, nil
		}
	}
}

// WriteCNB writes img as a .cnb file at path: an uncompressed tar of an OCI image layout
// (oci-layout, index.json, blobs/sha256/…), the form pack writes and reads (
// distribution.md, Buildpackage). Entries are sorted with fixed owner and mtime, so the same image gives the same
// file. The file appears atomically.
func WriteCNB(ctx context.Context, img v1.Image, path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("write buildpackage %s: %w", path, err)
	}
	dir, err := os.MkdirTemp(filepath.Dir(abs), "."+filepath.Base(abs)+".layout-*")
	if err != nil {
		return fmt.Errorf("write buildpackage %s: %w", path, err)
	}
	defer os.RemoveAll(dir)
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("write buildpackage %s: %w", path, err)
	}
	if err := lp.AppendImage(img); err != nil {
		return fmt.Errorf("write buildpackage %s: %w", path, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("write buildpackage %s: %w", path, err)
	}
	err = atomicfile.WriteFrom(abs, 0o644, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<20)
		if err := tarTree(ctx, dir, bw); err != nil {
			return err
		}
		return bw.Flush()
	})
	if err != nil {
		return fmt.Errorf("write buildpackage %s: %w", path, err)
	}
	return nil
}

// tarTree writes dir's tree as an uncompressed tar with reproducible headers.
func tarTree(ctx context.Context, dir string, w io.Writer) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		info, err := de.Info()
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: filepath.ToSlash(rel), ModTime: layer.Epoch(), Mode: 0o644}
		switch {
		case info.IsDir():
			hdr.Typeflag, hdr.Name, hdr.Mode = tar.TypeDir, hdr.Name+"/", 0o755
		case info.Mode().IsRegular():
			hdr.Typeflag, hdr.Size = tar.TypeReg, info.Size()
		default:
			return fmt.Errorf("unexpected file %s in the image layout", p)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
