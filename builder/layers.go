package builder

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/slipway/slipway/buildpack"
	"github.com/slipway/slipway/layer"
	"github.com/slipway/slipway/platform"
)

// BuildpackImageDir is where buildpack d lives in a builder or buildpackage image:
// /cnb/buildpacks/<escaped id>/<version> (docs/spec-notes.md, Builder image; platform.md, Buildpacks Directory Layout).
func BuildpackImageDir(id, version string) string {
	return path.Join(platform.BuildpacksDir, buildpack.EscapedID(id), version)
}

// buildpackLayer archives the laid-out buildpack d as the single layer pack would write
// for it (distribution.md, Buildpackage [pack]): everything root-owned, directories and executables
// (any exec bit, or bin/build, bin/detect, bin/generate) 0755, other files 0644, symlinks
// kept as links, every mtime the fixed epoch. The same buildpack therefore always gives
// the same diffID, whatever umask or checkout time produced the files.
func buildpackLayer(ctx context.Context, d *buildpack.Descriptor, opts layer.Options) (*layer.Layer, error) {
	root := BuildpackImageDir(d.Buildpack.ID, d.Buildpack.Version)
	var entries []layer.Entry
	// WalkDir visits in lexical order, which keeps the tar (and its diffID) reproducible.
	err := filepath.WalkDir(d.Dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(d.Dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		imagePath := root
		if rel != "." {
			imagePath = root + "/" + rel
		}
		info, err := de.Info()
		if err != nil {
			return err
		}
		switch m := info.Mode(); {
		case m.IsDir():
			entries = append(entries, layer.Entry{Type: layer.EntryDir, Path: imagePath, Owner: layer.Owner{Mode: 0o755}})
		case m&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			entries = append(entries, layer.Entry{Type: layer.EntrySymlink, Path: imagePath, Target: link, Owner: layer.Owner{Mode: 0o777}})
		case m.IsRegular():
			mode := fs.FileMode(0o644)
			if m.Perm()&0o111 != 0 || isBuildpackExecutable(rel) {
				mode = 0o755
			}
			entries = append(entries, layer.Entry{Type: layer.EntryFile, Path: imagePath, HostPath: p, Owner: layer.Owner{Mode: mode}})
		}
		// Devices, sockets and fifos have no place in a buildpack layer.
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("archive buildpack %s from %s: %w", d.Ref(), d.Dir, err)
	}
	opts.UID, opts.GID, opts.ParentUID, opts.ParentGID = 0, 0, 0, 0
	l, err := layer.FromEntries(ctx, entries, opts)
	if err != nil {
		return nil, fmt.Errorf("archive buildpack %s from %s: %w", d.Ref(), d.Dir, err)
	}
	return l, nil
}

// isBuildpackExecutable reports whether rel is one of the entrypoints pack always makes
// executable (distribution.md, Buildpackage).
func isBuildpackExecutable(rel string) bool {
	switch rel {
	case "bin/build", "bin/detect", "bin/generate":
		return true
	}
	return false
}
