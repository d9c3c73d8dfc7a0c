package builder

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/slipway/slipway/buildpack"
	"github.com/slipway/slipway/project"
	"github.com/slipway/slipway/untar"
)

// FetchBuildpacks lays out every [[buildpacks]] entry of cfg under
// <destBuildpacksDir>/<escaped id>/<version>/ (docs/spec-notes.md, Builder image; platform.md, Buildpacks Directory Layout) and returns their
// descriptors in config order. A uri may be a directory, a .tgz/.tar archive with
// buildpack.toml at its root, or a file:// URL; relative paths resolve against cfg.Dir.
//
// It checks what pack checks: an entry's id/version, when given, must match the
// buildpack.toml found; every child of a composite buildpack and every [[order.group]]
// entry must name a listed buildpack. An order entry without a version is completed with
// the version of the only listed buildpack of that id, so cfg.Order can be written as
// order.toml directly.
func FetchBuildpacks(ctx context.Context, cfg *Config, destBuildpacksDir string) ([]*buildpack.Descriptor, error) {
	if err := os.MkdirAll(destBuildpacksDir, 0o755); err != nil {
		return nil, fmt.Errorf("create buildpacks directory %s: %w", destBuildpacksDir, err)
	}
	where := cfg.Path
	if where == "" {
		where = "builder config"
	}
	var out []*buildpack.Descriptor
	for i, bc := range cfg.Buildpacks {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("fetch buildpacks: %w", err)
		}
		d, err := fetchOne(ctx, cfg.Dir, bc, cfg.FetchCacheDir, destBuildpacksDir)
		if err != nil {
			return nil, fmt.Errorf("%s: [[buildpacks]] entry %d (%s): %w", where, i+1, bpName(bc), err)
		}
		if (bc.ID != "" && bc.ID != d.Buildpack.ID) || (bc.Version != "" && bc.Version != d.Buildpack.Version) {
			return nil, fmt.Errorf("%s: [[buildpacks]] entry %d: config says %s but %s/buildpack.toml is %s; fix the id/version or the uri",
				where, i+1, bpName(bc), bc.URI, d.Ref())
		}
		out = append(out, d)
	}

	versions := map[string][]string{}
	for _, d := range out {
		versions[d.Buildpack.ID] = append(versions[d.Buildpack.ID], d.Buildpack.Version)
	}
	has := func(id, version string) bool {
		for _, v := range versions[id] {
			if version == "" || v == version {
				return true
			}
		}
		return false
	}
	for _, d := range out {
		for _, g := range d.Order {
			for _, e := range g.Group {
				if !has(e.ID, e.Version) {
					return nil, fmt.Errorf("%s: composite buildpack %s needs %s, which no [[buildpacks]] entry provides; add it",
						where, d.Ref(), e.Ref())
				}
			}
		}
	}
	for i := range cfg.Order {
		for j := range cfg.Order[i].Group {
			e := &cfg.Order[i].Group[j]
			if !has(e.ID, e.Version) {
				return nil, fmt.Errorf("%s: [[order]] entry %d names %s, which no [[buildpacks]] entry provides; add it",
					where, i+1, strings.TrimSuffix(e.Ref(), "@"))
			}
			if e.Version == "" {
				if vs := versions[e.ID]; len(vs) == 1 {
					e.Version = vs[0]
				} else {
					return nil, fmt.Errorf("%s: [[order]] entry %d names %s without a version, but several versions are listed (%s); set version",
						where, i+1, e.ID, strings.Join(vs, ", "))
				}
			}
		}
	}
	return out, nil
}

// fetchOne resolves one entry's uri and lays the buildpack out under dest.
func fetchOne(ctx context.Context, baseDir string, bc BuildpackConfig, cacheDir, dest string) (*buildpack.Descriptor, error) {
	if bc.URI == "" {
		return nil, fmt.Errorf("buildpackage image %q: image buildpacks are not supported yet; use a directory or .tgz uri", bc.Image)
	}
	if IsRemoteURI(bc.URI) {
		descs, err := LayoutBuildpackURI(ctx, bc.URI, cacheDir, dest)
		if err != nil {
			return nil, err
		}
		return descs[0], nil
	}
	p, err := localPath(baseDir, bc.URI)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("uri %s: %w", bc.URI, err)
	}
	if fi.IsDir() {
		return LayoutBuildpackDir(ctx, p, dest)
	}
	return layoutArchive(ctx, p, dest)
}

// localPath turns a uri into a local path, refusing the remote forms Slipway cannot fetch yet.
func localPath(baseDir, uri string) (string, error) {
	if u, err := url.Parse(uri); err == nil && u.Scheme != "" && len(u.Scheme) > 1 {
		switch u.Scheme {
		case "file":
			if u.Host != "" && u.Host != "localhost" {
				return "", fmt.Errorf("uri %s: file:// URLs must name a local path", uri)
			}
			return filepath.FromSlash(u.Path), nil
		default:
			return "", fmt.Errorf("uri %s: %s:// buildpacks are not supported yet; download it and use a directory or .tgz path", uri, u.Scheme)
		}
	}
	if strings.HasPrefix(uri, "urn:cnb:") {
		return "", fmt.Errorf("uri %s: registry buildpacks are not supported yet", uri)
	}
	if filepath.IsAbs(uri) {
		return uri, nil
	}
	return filepath.Join(baseDir, uri), nil
}

// LayoutBuildpackDir copies the buildpack directory srcDir (e.g. from `--buildpack DIR`) to
// <destBuildpacksDir>/<escaped id>/<version>/ (docs/spec-notes.md, Builder image; platform.md, Buildpacks Directory Layout), replacing any
// previous copy. Symlinks are copied as links, not followed. The copy is staged beside the
// target and renamed into place, so readers never see a half-copied buildpack.
func LayoutBuildpackDir(ctx context.Context, srcDir, destBuildpacksDir string) (*buildpack.Descriptor, error) {
	if buildpack.IsClassicDir(srcDir) {
		return layoutClassicDir(ctx, srcDir, destBuildpacksDir, classicOrigin{source: srcDir})
	}
	d, err := buildpack.ReadDescriptor(srcDir)
	if err != nil {
		return nil, fmt.Errorf("lay out buildpack %s: %w", srcDir, err)
	}
	if err := os.MkdirAll(destBuildpacksDir, 0o755); err != nil {
		return nil, fmt.Errorf("lay out buildpack %s: %w", d.Ref(), err)
	}
	stage, err := os.MkdirTemp(destBuildpacksDir, ".stage-*")
	if err != nil {
		return nil, fmt.Errorf("lay out buildpack %s: %w", d.Ref(), err)
	}
	defer os.RemoveAll(stage)
	tree := filepath.Join(stage, "bp")
	if err := project.CopyApp(ctx, srcDir, tree, nil, nil); err != nil {
		return nil, fmt.Errorf("lay out buildpack %s from %s: %w", d.Ref(), srcDir, err)
	}
	return install(tree, destBuildpacksDir)
}

// layoutArchive extracts a buildpack archive (.tgz, .tar.gz or .tar; gzip is detected from
// the content) and installs it.
func layoutArchive(ctx context.Context, archive, dest string) (*buildpack.Descriptor, error) {
	return layoutArchiveFrom(ctx, archive, archive, dest)
}

// layoutArchiveFrom is layoutArchive for an archive downloaded from source (which names a
// classic buildpack).
func layoutArchiveFrom(ctx context.Context, archive, source, dest string) (*buildpack.Descriptor, error) {
	stage, err := os.MkdirTemp(dest, ".stage-*")
	if err != nil {
		return nil, fmt.Errorf("extract %s: %w", archive, err)
	}
	defer os.RemoveAll(stage)
	tree := filepath.Join(stage, "bp")
	if err := extract(ctx, archive, tree); err != nil {
		return nil, err
	}
	if root, ok := classicRoot(tree); ok {
		return layoutClassicTree(archive, source, root, stage, dest)
	}
	if _, err := os.Stat(filepath.Join(tree, "buildpack.toml")); err != nil {
		return nil, fmt.Errorf("archive %s has no buildpack.toml at its root (.cnb buildpackages are not supported yet)", archive)
	}
	return install(tree, dest)
}

// install reads tree's buildpack.toml and renames tree to <dest>/<escaped id>/<version>.
func install(tree, dest string) (*buildpack.Descriptor, error) {
	d, err := buildpack.ReadDescriptor(tree)
	if err != nil {
		return nil, err
	}
	target := filepath.Join(dest, buildpack.EscapedID(d.Buildpack.ID), d.Buildpack.Version)
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return nil, fmt.Errorf("install buildpack %s: %w", d.Ref(), err)
	}
	// Swap an existing copy aside first: rename cannot replace a non-empty directory.
	old := tree + ".old"
	if err := os.Rename(target, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("install buildpack %s: %w", d.Ref(), err)
	}
	if err := os.Rename(tree, target); err != nil {
		return nil, fmt.Errorf("install buildpack %s: %w", d.Ref(), err)
	}
	_ = os.RemoveAll(old)
	d.Dir = target
	if d.Classic != nil {
		d.Classic.Tree = filepath.Join(target, buildpack.ClassicTreeDir)
	}
	return d, nil
}

// extract unpacks archive (a tar, gzipped or not) into dir with archive semantics
// (untar.Options): no entry, hard link or write through a symlink lands outside dir, sparse
// entries are refused and the total size is bounded.
func extract(ctx context.Context, archive, dir string) error {
	if isZip(archive) {
		return extractZip(ctx, archive, dir)
	}
	f, err := os.Open(archive)
	if err != nil {
		return fmt.Errorf("extract %s: %w", archive, err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var r io.Reader = br
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("extract %s: %w", archive, err)
		}
		defer gz.Close()
		r = gz
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("extract %s: %w", archive, err)
	}
	if err := untar.Into(ctx, r, dir, untar.Options{}); err != nil {
		return fmt.Errorf("extract %s: %w", archive, err)
	}
	return nil
}
