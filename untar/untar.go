package untar

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"
)

// Options say how a tar stream is written.
type Options struct {
	// Layer selects OCI image-layer semantics, for build and run image filesystems: names
	// may be absolute (taken from the top of the directory), whiteouts are applied,
	// directory components that are symlinks resolve as they will inside a container whose
	// root is the directory (absolute targets from the top, ".." stopping there: Debian's
	// /var/run -> /run), modes are kept whole (setuid, sticky), ownership is restored when
	// running as root, and sparse entries are written with holes.
	//
	// Without it, archive semantics apply, for buildpacks and caches: an absolute name, a
	// name that climbs out, or a path through a symlink is an error; directories stay
	// writable by their owner; only permission bits are kept; sparse entries are refused
	// (a few hundred bytes could otherwise claim gigabytes).
	Layer bool
	// AbsoluteNames takes a name starting with '/' from the top of the directory, as image
	// layers do (implied by Layer); otherwise it is an error.
	AbsoluteNames bool
	// Select maps a cleaned, slash-separated entry name (relative, never "..") to the name
	// to write it at, or reports false to skip the entry. Hard-link targets are mapped too,
	// and one that is skipped is an error. Nil keeps every name.
	Select func(name string) (string, bool)
	// Budget bounds how much is written; nil means a fresh budget of the default limit
	// (see FromEnv).
	Budget *Budget
	// StripSetID drops setuid and setgid bits from Layer entries. A sandbox rootfs is
	// mounted nosuid, so the bits do nothing there, while on the host a setuid-root file
	// from an untrusted image would be a root shell for any local user who can reach it.
	StripSetID bool
}

// Dir writes tar streams into one directory, through an [os.Root], so that no entry, link
// or later entry written through a link lands outside it.
type Dir struct {
	root   *os.Root
	opts   Options
	asRoot bool
	dirs   map[string]dirMeta
}

// dirMeta is applied by Close, after every entry is written, so a read-only directory
// does not get in the way of later entries and child writes do not disturb its mtime.
type dirMeta struct {
	mode     fs.FileMode
	uid, gid int
	mtime    time.Time
}

// OCI image-spec layer whiteouts.
const (
	whiteoutPrefix = ".wh."
	opaqueWhiteout = ".wh..wh..opq"
)

// Open prepares to write into dir, which must exist.
func Open(dir string, opts Options) (*Dir, error) {
	if opts.Budget == nil {
		b, err := FromEnv()
		if err != nil {
			return nil, err
		}
		opts.Budget = b
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open extraction directory: %w", err)
	}
	return &Dir{root: root, opts: opts, asRoot: os.Geteuid() == 0, dirs: map[string]dirMeta{}}, nil
}

// Root is the directory being written, for callers that add to it before Close.
func (d *Dir) Root() *os.Root { return d.root }

// Into writes the tar stream r into the existing directory dir.
func Into(ctx context.Context, r io.Reader, dir string, opts Options) error {
	d, err := Open(dir, opts)
	if err != nil {
		return err
	}
	if err := d.Apply(ctx, r); err != nil {
		d.root.Close()
		return err
	}
	return d.Close()
}

// Close applies directory modes, owners and times, deepest first, and releases the
// directory.
func (d *Dir) Close() error {
	defer d.root.Close()
	names := make([]string, 0, len(d.dirs))
	for n := range d.dirs {
		names = append(names, n)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(names)))
	for _, n := range names {
		m := d.dirs[n]
		fi, err := d.root.Lstat(n)
		if err != nil || !fi.IsDir() {
			continue // replaced or whited out later
		}
		if err := d.setMeta(n, m.mode, m.uid, m.gid, m.mtime); err != nil {
			return err
		}
	}
	return nil
}

// Apply writes the entries of one tar stream (one image layer, one archive).
func (d *Dir) Apply(ctx context.Context, r io.Reader) error {
	// Entries this stream made: an opaque whiteout hides only what lower layers put in the
	// directory, whatever the order of entries inside this layer.
	mine := map[string]bool{}
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read tar: %w", err)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		name, ok, err := d.name(hdr.Name)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if err := d.opts.Budget.take(hdr); err != nil {
			return err
		}
		if name == "." {
			if hdr.Typeflag == tar.TypeDir {
				d.dirs["."] = d.meta(hdr)
			}
			continue
		}
		parent, base := path.Split(name)
		parent = strings.TrimSuffix(parent, "/")
		if parent == "" {
			parent = "."
		}
		if d.opts.Layer {
			switch {
			case base == opaqueWhiteout:
				if err := d.opaque(parent, mine); err != nil {
					return err
				}
				continue
			case strings.HasPrefix(base, whiteoutPrefix):
				victim := path.Join(parent, strings.TrimPrefix(base, whiteoutPrefix))
				if err := d.root.RemoveAll(victim); err != nil {
					return fmt.Errorf("apply whiteout %s: %w", hdr.Name, err)
				}
				continue
			}
		}
		if err := d.mkParents(parent); err != nil {
			return fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
		if err := d.entry(ctx, name, hdr, tr); err != nil {
			return fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
		mine[name] = true
	}
}

// name maps an entry name to where it is written, relative to the root ("." for the root
// itself), and refuses names that leave it.
func (d *Dir) name(n string) (string, bool, error) {
	n = strings.ReplaceAll(n, `\`, "/")
	if strings.Contains("/"+n+"/", "/../") {
		return "", false, &EscapeError{Entry: n, Why: "climbs out with '..' (path traversal)"}
	}
	if path.IsAbs(n) && !d.opts.Layer && !d.opts.AbsoluteNames {
		return "", false, &EscapeError{Entry: n, Why: "has an absolute path"}
	}
	c := strings.TrimPrefix(path.Clean("/"+n), "/")
	if c == "" {
		c = "."
	}
	if d.opts.Select != nil {
		s, ok := d.opts.Select(c)
		if !ok {
			return "", false, nil
		}
		if s = path.Clean(s); s == ".." || strings.HasPrefix(s, "../") || path.IsAbs(s) {
			return "", false, &EscapeError{Entry: n, Why: "is selected to a place outside the directory"}
		}
		c = s
	}
	if d.opts.Layer {
		r, err := resolveParent(d.root, c)
		if err != nil {
			return "", false, err
		}
		c = r
	}
	return c, true, nil
}

// mkParents creates dir and its parents. With archive semantics a component that is a
// symlink is an error, as a later entry could write through it.
func (d *Dir) mkParents(dir string) error {
	if dir == "." {
		return nil
	}
	if d.opts.Layer {
		if err := d.root.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create parent %s: %w", dir, err)
		}
		return nil
	}
	cur := ""
	for _, part := range strings.Split(dir, "/") {
		cur = path.Join(cur, part)
		fi, err := d.root.Lstat(cur)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := d.root.Mkdir(cur, 0o755); err != nil {
				return err
			}
		case err != nil:
			return err
		case fi.Mode()&fs.ModeSymlink != 0:
			return &EscapeError{Entry: dir, Why: "goes through symlink " + cur + " (path traversal)"}
		case !fi.IsDir():
			return fmt.Errorf("parent %s is not a directory", cur)
		}
	}
	return nil
}

func (d *Dir) meta(hdr *tar.Header) dirMeta {
	mode := hdr.FileInfo().Mode()
	if !d.opts.Layer {
		mode = mode.Perm() | 0o700
	}
	return dirMeta{mode, hdr.Uid, hdr.Gid, hdr.ModTime}
}

func (d *Dir) entry(ctx context.Context, name string, hdr *tar.Header, r io.Reader) error {
	existing, err := d.root.Lstat(name)
	exists := err == nil
	if exists && !(existing.IsDir() && hdr.Typeflag == tar.TypeDir) {
		// What is there is replaced, never written through: a symlink is not followed and
		// a file hard-linked elsewhere is not truncated.
		if err := d.root.RemoveAll(name); err != nil {
			return fmt.Errorf("replace %s: %w", name, err)
		}
		exists = false
	}
	mode := hdr.FileInfo().Mode()
	if !d.opts.Layer {
		mode = mode.Perm()
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if !exists {
			if err := d.root.Mkdir(name, 0o755); err != nil {
				return fmt.Errorf("create directory: %w", err)
			}
		}
		d.dirs[name] = d.meta(hdr)
		return nil
	case tar.TypeReg, tar.TypeGNUSparse:
		sparse := IsSparse(hdr)
		if sparse && !d.opts.Layer {
			return &SparseError{Entry: hdr.Name, Size: hdr.Size}
		}
		if err := d.writeFile(ctx, name, r, sparse); err != nil {
			return err
		}
		return d.setMeta(name, mode, hdr.Uid, hdr.Gid, hdr.ModTime)
	case tar.TypeSymlink:
		if err := d.root.Symlink(hdr.Linkname, name); err != nil {
			return fmt.Errorf("create symlink: %w", err)
		}
		if d.opts.Layer && d.asRoot {
			if err := d.root.Lchown(name, hdr.Uid, hdr.Gid); err != nil {
				return fmt.Errorf("chown symlink: %w", err)
			}
		}
		return nil
	case tar.TypeLink:
		target, ok, err := d.name(hdr.Linkname)
		if err != nil {
			return fmt.Errorf("hard link: %w", err)
		}
		if !ok || target == "." {
			return &EscapeError{Entry: hdr.Name, Why: "is a hard link to " + hdr.Linkname + ", outside what is extracted"}
		}
		if !d.opts.Layer {
			if fi, err := d.root.Lstat(target); err != nil || !fi.Mode().IsRegular() {
				return fmt.Errorf("hard link to %s: it must be a regular file extracted earlier", hdr.Linkname)
			}
		}
		// The link shares the target's inode, owner and mode.
		if err := d.root.Link(target, name); err != nil {
			return fmt.Errorf("create hard link to %s: %w", target, err)
		}
		return nil
	default:
		return nil // devices, fifos, sockets: the sandbox gives /dev its own; nothing else needs them
	}
}

func (d *Dir) setMeta(name string, mode fs.FileMode, uid, gid int, mtime time.Time) error {
	if d.opts.Layer && d.asRoot {
		if err := d.root.Lchown(name, uid, gid); err != nil {
			return fmt.Errorf("chown %s: %w", name, err)
		}
	}
	// After chown, which clears setuid/setgid bits.
	keep := fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky
	if d.opts.StripSetID {
		keep = fs.ModeSticky
	}
	if err := d.root.Chmod(name, mode.Perm()|mode&keep); err != nil {
		return fmt.Errorf("chmod %s: %w", name, err)
	}
	if err := d.root.Chtimes(name, mtime, mtime); err != nil {
		return fmt.Errorf("set mtime of %s: %w", name, err)
	}
	return nil
}

// writeFile creates name (which does not exist: entry removed what was there) and streams
// the entry into it; a sparse entry's holes stay holes.
func (d *Dir) writeFile(ctx context.Context, name string, r io.Reader, sparse bool) error {
	f, err := d.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create file: %w", err)
	}
	if sparse {
		err = copySparse(ctx, f, r)
	} else {
		_, err = io.Copy(f, ctxReader{ctx, r})
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("write file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write file: %w", err)
	}
	return nil
}

// opaque empties dir of everything lower layers put there.
func (d *Dir) opaque(dir string, mine map[string]bool) error {
	f, err := d.root.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("apply opaque whiteout in %s: %w", dir, err)
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return fmt.Errorf("apply opaque whiteout in %s: %w", dir, err)
	}
	for _, n := range names {
		p := path.Join(dir, n)
		if mine[p] {
			continue
		}
		if err := d.root.RemoveAll(p); err != nil {
			return fmt.Errorf("apply opaque whiteout in %s: %w", dir, err)
		}
	}
	return nil
}

// Resolve rewrites name, relative to root, so that no component is a symlink, resolving
// each as it resolves inside a container rooted at root (absolute targets from the top,
// ".." stopping there). The result names the same file for a process inside that
// container, and host code can open it with nofollow without ever leaving root.
func Resolve(root *os.Root, name string) (string, error) {
	r, err := resolveParent(root, path.Clean(name)+"/.")
	if err != nil || r == "" {
		return ".", err
	}
	return r, nil
}

// resolveParent rewrites name so that no directory component is a symlink, resolving
// symlinks the way they resolve inside a container rooted at root: absolute targets from
// the top, ".." stopping there. Layers may write through such links (Debian's
// /var/run -> /run), which os.Root alone would refuse as escaping.
func resolveParent(root *os.Root, name string) (string, error) {
	if name == "." {
		return name, nil
	}
	dir, base := path.Split(name)
	var resolved []string
	pending := strings.Split(strings.Trim(dir, "/"), "/")
	for hops := 0; len(pending) > 0; {
		c := pending[0]
		pending = pending[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(resolved) > 0 {
				resolved = resolved[:len(resolved)-1]
			}
			continue
		}
		cur := path.Join(append(resolved, c)...)
		fi, err := root.Lstat(cur)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			resolved = append(resolved, c) // a dir, or not there yet (mkParents makes it)
			continue
		}
		if hops++; hops > 40 {
			return "", fmt.Errorf("resolve %s: too many levels of symbolic links", name)
		}
		target, err := root.Readlink(cur)
		if err != nil {
			return "", fmt.Errorf("resolve %s: %w", name, err)
		}
		if path.IsAbs(target) {
			resolved = nil
		}
		pending = append(strings.Split(target, "/"), pending...)
	}
	if len(resolved) == 0 {
		return base, nil
	}
	return path.Join(path.Join(resolved...), base), nil
}

// ctxReader stops a long copy when ctx is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
