package layer

import (
	"context"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// FromDir archives the host tree hostDir as if it lived at imagePath in the image: host
// /tmp/x/layers/bp/node at /layers/bp/node gives entries layers/, layers/bp/ (parent dirs,
// Options.ParentUID/GID) and layers/bp/node/… (Options.UID/GID), docs/spec-notes.md, Image layer order; platform.md, Build Reproducibility.
func FromDir(ctx context.Context, hostDir, imagePath string, opts Options) (*Layer, error) {
	w, err := NewWriter(opts)
	if err != nil {
		return nil, err
	}
	if err := w.AddTree(ctx, hostDir, imagePath); err != nil {
		w.Abort()
		return nil, fmt.Errorf("archive %s as %s: %w", hostDir, imagePath, err)
	}
	return w.Close()
}

// FromFiles archives only the listed paths of the host tree root, rooted at imagePath; rel
// holds slash- or OS-separated paths relative to root (an app slice, buildpack.md, Slice Layers). A
// listed directory contributes its own entry, not its children; list those too. Ancestors
// inside root are archived from the host (mode kept, owner Options.UID/GID) and entries are
// written in sorted order (platform.md, Build Reproducibility).
func FromFiles(ctx context.Context, root, imagePath string, rel []string, opts Options) (*Layer, error) {
	w, err := NewWriter(opts)
	if err != nil {
		return nil, err
	}
	if err := w.addFiles(ctx, root, imagePath, rel); err != nil {
		w.Abort()
		return nil, fmt.Errorf("archive files of %s as %s: %w", root, imagePath, err)
	}
	return w.Close()
}

func (w *Writer) addFiles(ctx context.Context, root, imagePath string, rel []string) error {
	base, err := entryName(imagePath)
	if err != nil {
		return err
	}
	sorted := make([]string, 0, len(rel))
	for _, r := range rel {
		r = path.Clean(filepath.ToSlash(r))
		if r == ".." || strings.HasPrefix(r, "../") || path.IsAbs(r) {
			return fmt.Errorf("path %q escapes %s", r, root)
		}
		sorted = append(sorted, r)
	}
	slices.Sort(sorted)
	// The tree root is always part of the layer, like the walk root in FromDir.
	if err := w.addHost(ctx, root, base); err != nil {
		return err
	}
	for _, r := range sorted {
		if r == "." {
			continue
		}
		parts := strings.Split(r, "/")
		for i := 1; i <= len(parts); i++ {
			sub := strings.Join(parts[:i], "/")
			if err := w.addHost(ctx, filepath.Join(root, filepath.FromSlash(sub)), base+"/"+sub); err != nil {
				return err
			}
		}
	}
	return nil
}

// EntryType says what a synthetic Entry is.
type EntryType int

const (
	// EntryDir is a directory.
	EntryDir EntryType = iota
	// EntryFile is a regular file whose bytes come from Entry.HostPath.
	EntryFile
	// EntrySymlink is a symlink to Entry.Target.
	EntrySymlink
)

// Entry is one synthetic layer entry at an absolute image path.
type Entry struct {
	Type     EntryType
	Path     string // absolute image path, e.g. /cnb/process/web
	HostPath string // EntryFile: the file whose bytes are archived
	Target   string // EntrySymlink: link target
	Owner    Owner
}

// FromEntries archives synthetic entries in the given order; missing ancestors are parent
// dirs owned by Options.ParentUID/GID. It builds the launcher and process-types layers
// (docs/spec-notes.md, Image layer order items 6 and 8).
func FromEntries(ctx context.Context, entries []Entry, opts Options) (*Layer, error) {
	w, err := NewWriter(opts)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		switch e.Type {
		case EntryDir:
			err = w.AddDir(e.Path, e.Owner)
		case EntryFile:
			err = w.AddFile(ctx, e.HostPath, e.Path, e.Owner)
		case EntrySymlink:
			err = w.AddSymlink(e.Path, e.Target, e.Owner)
		default:
			err = fmt.Errorf("entry %s: unknown type %d", e.Path, e.Type)
		}
		if err != nil {
			w.Abort()
			return nil, err
		}
	}
	return w.Close()
}
