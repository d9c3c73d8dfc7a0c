package project

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	ignore "github.com/sabhiram/go-gitignore"
)

// CopyApp makes dst a synced copy of the app directory src, as the build workspace
// (extensions/project-descriptor.md: files are excluded before the build). Paths matching an exclude pattern,
// or matching no include pattern, are left out; patterns use gitignore syntax and match the
// path relative to src, as pack's do (pack uses the same matcher). At most one of include
// and exclude may be non-empty. Like pack, CopyApp does not skip .git.
//
// Regular files are streamed; symlinks are recreated as symlinks and never followed, even when
// they point outside src; sockets, FIFOs and devices are skipped. File and directory modes and
// mtimes are preserved. A file already in dst with the same size, mtime and mode is left
// alone, and entries of dst that the copy would not produce are removed, so a second call
// after a small edit costs one directory walk. src itself may be a symlink to a directory.
func CopyApp(ctx context.Context, src, dst string, include, exclude []string) error {
	if len(include) > 0 && len(exclude) > 0 {
		return errors.New("copy app: both include and exclude patterns given; use one")
	}
	root, err := filepath.EvalSymlinks(src)
	if err != nil {
		return fmt.Errorf("copy app directory %s: %w", src, err)
	}
	fi, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("copy app directory %s: %w", src, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("copy app directory %s: not a directory", src)
	}
	if err := refuseNested(root, dst); err != nil {
		return err
	}
	c := &copier{ctx: ctx, src: root}
	if len(include) > 0 {
		c.include = ignore.CompileIgnoreLines(include...)
	}
	if len(exclude) > 0 {
		c.exclude = ignore.CompileIgnoreLines(exclude...)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("copy app into %s: %w", dst, err)
	}
	if _, err := c.syncDir("", dst, fi, true); err != nil {
		return err
	}
	return nil
}

// refuseNested stops a copy into a directory inside the source, which would copy itself.
func refuseNested(root, dst string) error {
	absDst, err := filepath.Abs(dst)
	if err != nil {
		return fmt.Errorf("copy app into %s: %w", dst, err)
	}
	if d, err := filepath.EvalSymlinks(absDst); err == nil {
		absDst = d
	}
	rel, err := filepath.Rel(root, absDst)
	if err == nil && (rel == "." || !strings.HasPrefix(rel, "..")) {
		return fmt.Errorf("copy app: destination %s is inside the app directory %s; choose a workspace outside it", dst, root)
	}
	return nil
}

type copier struct {
	ctx              context.Context
	src              string
	include, exclude *ignore.GitIgnore
}

// selected reports whether rel (slash-separated, relative to the app root) is copied.
// Directories are also tried with a trailing slash so that "dir/" patterns match them.
func (c *copier) selected(rel string, isDir bool) bool {
	m := func(g *ignore.GitIgnore) bool {
		return g.MatchesPath(rel) || (isDir && g.MatchesPath(rel+"/"))
	}
	if c.exclude != nil && m(c.exclude) {
		return false
	}
	if c.include != nil && !m(c.include) {
		return false
	}
	return true
}

// syncDir makes dstDir mirror the source directory rel. A directory that is not selected by
// the include list is still walked, because included files may live below it; it is kept
// only if something below it was copied. It reports whether dstDir was kept.
func (c *copier) syncDir(rel, dstDir string, srcInfo fs.FileInfo, selected bool) (bool, error) {
	if err := c.ctx.Err(); err != nil {
		return false, fmt.Errorf("copy app: %w", err)
	}
	srcDir := filepath.Join(c.src, filepath.FromSlash(rel))
	entries, err := os.ReadDir(srcDir)
	if err != nil {
		return false, fmt.Errorf("copy app: read directory %s: %w", srcDir, err)
	}
	if err := ensureDir(dstDir); err != nil {
		return false, err
	}
	keep := make(map[string]bool, len(entries))
	for _, e := range entries {
		childRel := e.Name()
		if rel != "" {
			childRel = rel + "/" + e.Name()
		}
		srcPath := filepath.Join(srcDir, e.Name())
		dstPath := filepath.Join(dstDir, e.Name())
		info, err := os.Lstat(srcPath)
		if err != nil {
			return false, fmt.Errorf("copy app: %w", err)
		}
		isDir := info.IsDir()
		sel := c.selected(childRel, isDir)
		switch {
		case isDir:
			// An excluded directory is pruned as git prunes an ignored one: nothing below
			// it can be re-included.
			if c.exclude != nil && !sel {
				continue
			}
			kept, err := c.syncDir(childRel, dstPath, info, sel)
			if err != nil {
				return false, err
			}
			keep[e.Name()] = kept
		case !sel:
			continue
		case info.Mode().IsRegular():
			if err := c.syncFile(srcPath, dstPath, info); err != nil {
				return false, err
			}
			keep[e.Name()] = true
		case info.Mode()&fs.ModeSymlink != 0:
			if err := syncSymlink(srcPath, dstPath); err != nil {
				return false, err
			}
			keep[e.Name()] = true
		default:
			// Sockets, FIFOs and devices have no place in an app image; pack skips sockets.
		}
	}
	if err := prune(dstDir, keep); err != nil {
		return false, err
	}
	if rel != "" && !selected && len(keepTrue(keep)) == 0 {
		if err := os.RemoveAll(dstDir); err != nil {
			return false, fmt.Errorf("copy app: remove %s: %w", dstDir, err)
		}
		return false, nil
	}
	// Mode and mtime last: writing children changes the mtime, and a read-only source
	// directory must stay writable until its children are in.
	if err := os.Chmod(dstDir, srcInfo.Mode()&modeBits); err != nil {
		return false, fmt.Errorf("copy app: %w", err)
	}
	if err := os.Chtimes(dstDir, srcInfo.ModTime(), srcInfo.ModTime()); err != nil {
		return false, fmt.Errorf("copy app: %w", err)
	}
	return true, nil
}

func keepTrue(keep map[string]bool) []string {
	var out []string
	for k, v := range keep {
		if v {
			out = append(out, k)
		}
	}
	return out
}

const modeBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

// ensureDir makes path a writable directory, replacing whatever non-directory is there.
func ensureDir(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case err == nil && fi.IsDir():
		if fi.Mode().Perm()&0o700 != 0o700 {
			if err := os.Chmod(path, fi.Mode().Perm()|0o700); err != nil {
				return fmt.Errorf("copy app: %w", err)
			}
		}
		return nil
	case err == nil:
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("copy app: replace %s with a directory: %w", path, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("copy app: %w", err)
	}
	if err := os.Mkdir(path, 0o755); err != nil {
		return fmt.Errorf("copy app: %w", err)
	}
	return nil
}

// prune removes entries of dstDir that are not marked kept.
func prune(dstDir string, keep map[string]bool) error {
	entries, err := os.ReadDir(dstDir)
	if err != nil {
		return fmt.Errorf("copy app: read directory %s: %w", dstDir, err)
	}
	for _, e := range entries {
		if keep[e.Name()] {
			continue
		}
		p := filepath.Join(dstDir, e.Name())
		if err := makeRemovable(p); err != nil {
			return err
		}
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("copy app: remove stale %s: %w", p, err)
		}
	}
	return nil
}

// makeRemovable grants the owner write access to directories under p, since a copied
// read-only directory would otherwise make RemoveAll fail.
func makeRemovable(p string) error {
	return filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if info, err := d.Info(); err == nil && info.Mode().Perm()&0o700 != 0o700 {
			_ = os.Chmod(path, info.Mode().Perm()|0o700)
		}
		return nil
	})
}

// syncFile copies one regular file unless dst already has the same size, mtime and mode.
// The content is streamed into a temp file and renamed into place, so an interrupted copy
// never leaves a truncated file that a later sync would take as up to date (its mtime would
// differ, but its size might not). No fsync: the workspace is rebuilt from src on demand.
func (c *copier) syncFile(srcPath, dstPath string, info fs.FileInfo) error {
	if di, err := os.Lstat(dstPath); err == nil {
		if di.Mode().IsRegular() && di.Size() == info.Size() && di.ModTime().Equal(info.ModTime()) &&
			di.Mode()&modeBits == info.Mode()&modeBits {
			return nil
		}
		if di.IsDir() {
			if err := makeRemovable(dstPath); err != nil {
				return err
			}
			if err := os.RemoveAll(dstPath); err != nil {
				return fmt.Errorf("copy app: replace %s: %w", dstPath, err)
			}
		}
	}
	in, err := os.Open(srcPath)
	if err != nil {
		return fmt.Errorf("copy app: %w", err)
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dstPath), ".slipway-copy-*")
	if err != nil {
		return fmt.Errorf("copy app: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return fmt.Errorf("copy app: copy %s: %w", srcPath, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("copy app: write %s: %w", dstPath, err)
	}
	if err := os.Chmod(tmp.Name(), info.Mode()&modeBits); err != nil {
		return fmt.Errorf("copy app: %w", err)
	}
	if err := os.Chtimes(tmp.Name(), info.ModTime(), info.ModTime()); err != nil {
		return fmt.Errorf("copy app: %w", err)
	}
	if err := os.Rename(tmp.Name(), dstPath); err != nil {
		return fmt.Errorf("copy app: %w", err)
	}
	return nil
}

// syncSymlink recreates the link at srcPath at dstPath with the same target, never reading
// through it. (Symlink mtimes are not preserved: the standard library cannot set them.)
func syncSymlink(srcPath, dstPath string) error {
	target, err := os.Readlink(srcPath)
	if err != nil {
		return fmt.Errorf("copy app: %w", err)
	}
	if di, err := os.Lstat(dstPath); err == nil {
		if di.Mode()&fs.ModeSymlink != 0 {
			if cur, err := os.Readlink(dstPath); err == nil && cur == target {
				return nil
			}
		}
		if err := makeRemovable(dstPath); err != nil {
			return err
		}
		if err := os.RemoveAll(dstPath); err != nil {
			return fmt.Errorf("copy app: replace %s: %w", dstPath, err)
		}
	}
	if err := os.Symlink(target, dstPath); err != nil {
		return fmt.Errorf("copy app: %w", err)
	}
	return nil
}
