package sandbox

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// mountPoints must exist in a rootfs because bwrap mounts it read-only and cannot create
// them there: the CNB paths (platform.md, Usage (default locations)) and what Bwrap itself mounts.
var mountPoints = []struct {
	name string
	mode fs.FileMode
}{
	{"cnb", 0o755}, {"dev", 0o755}, {"layers", 0o755}, {"platform", 0o755},
	{"proc", 0o555}, {"tmp", fs.ModeSticky | 0o777}, {"workspace", 0o755},
}

// Unpack extracts the filesystem of img (layers applied in order, whiteouts honoured) into
// <cacheDir>/<config digest hex> and returns that directory. An image is unpacked once:
// later calls, from this or any other process, reuse the directory. Extraction goes to a
// temp dir that is synced and renamed into place under a file lock, so a crash or a
// concurrent caller never sees a half-written rootfs.
//
// Device nodes, fifos and sockets are skipped (bwrap gives /dev its own). Entry names
// and hard links that climb out of the rootfs are rejected; symlinks, absolute or not,
// are resolved inside it, as they will be in the sandbox. The mount points Bwrap needs
// (/workspace, /layers, /platform, /cnb, /tmp, /proc, /dev, /etc/resolv.conf) are
// created when the image lacks them. Ownership is restored only when running as root.
func Unpack(ctx context.Context, img v1.Image, cacheDir string) (string, error) {
	cfgName, err := img.ConfigName()
	if err != nil {
		return "", fmt.Errorf("unpack image: read config digest: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return "", fmt.Errorf("unpack image %s: read config: %w", cfgName, err)
	}
	if cf.OS != "" && cf.OS != runtime.GOOS || cf.Architecture != "" && cf.Architecture != runtime.GOARCH {
		return "", fmt.Errorf("unpack image %s: it is %s/%s but this machine runs %s/%s; choose a build image for this platform",
			cfgName, cf.OS, cf.Architecture, runtime.GOOS, runtime.GOARCH)
	}
	dest := filepath.Join(cacheDir, cfgName.Hex)
	if isDir(dest) {
		return dest, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("unpack image %s: create cache dir: %w", cfgName, err)
	}
	unlock, err := lockFile(ctx, dest+".lock")
	if err != nil {
		return "", fmt.Errorf("unpack image %s: %w", cfgName, err)
	}
	defer unlock()
	if isDir(dest) { // another process finished while we waited for the lock
		return dest, nil
	}
	// Under the lock any temp dir for this digest is a crashed attempt's leftover.
	tmp := dest + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return "", fmt.Errorf("unpack image %s: remove stale %s: %w", cfgName, tmp, err)
	}
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return "", fmt.Errorf("unpack image %s: %w", cfgName, err)
	}
	if err := extract(ctx, img, tmp); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("unpack image %s into %s: %w", cfgName, cacheDir, err)
	}
	if err := flushFS(tmp); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("unpack image %s: sync %s: %w", cfgName, tmp, err)
	}
	if err := os.Rename(tmp, dest); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("unpack image %s: %w", cfgName, err)
	}
	if err := syncDir(cacheDir); err != nil {
		return "", fmt.Errorf("unpack image %s: sync %s: %w", cfgName, cacheDir, err)
	}
	return dest, nil
}

// dirMeta is applied after all layers are written, so a read-only directory mode does
// not get in the way of later entries and child writes do not disturb its mtime.
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

// extract applies the layers bottom-up, as a container runtime does, so an upper entry
// resolves through the symlinks and into the directories of the layers below it.
func extract(ctx context.Context, img v1.Image, dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("list layers: %w", err)
	}
	x := &extractor{root: root, asRoot: os.Geteuid() == 0, dirs: map[string]dirMeta{}}
	for i, l := range layers {
		if err := x.layer(ctx, l); err != nil {
			d, _ := l.Digest()
			return fmt.Errorf("layer %d (%s): %w", i, d, err)
		}
	}
	if err := ensureMountPoints(root, x.asRoot); err != nil {
		return err
	}
	names := make([]string, 0, len(x.dirs))
	for n := range x.dirs {
		names = append(names, n)
	}
	// Deepest first, so setting a parent's mtime is not undone by work on its children.
	sort.Sort(sort.Reverse(sort.StringSlice(names)))
	for _, n := range names {
		d := x.dirs[n]
		fi, err := root.Lstat(n)
		if err != nil || !fi.IsDir() {
			continue // replaced or whited out by a later layer
		}
		if err := x.setMeta(n, d.mode, d.uid, d.gid, d.mtime); err != nil {
			return err
		}
	}
	return nil
}

type extractor struct {
	root   *os.Root
	asRoot bool
	dirs   map[string]dirMeta
}

func (x *extractor) layer(ctx context.Context, l v1.Layer) error {
	rc, err := l.Uncompressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	// Entries this layer made: an opaque whiteout hides only what lower layers put in
	// the directory, whatever the order of entries inside this layer.
	mine := map[string]bool{}
	tr := tar.NewReader(rc)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		name, err := entryName(hdr.Name)
		if err != nil {
			return err
		}
		if name, err = resolveParent(x.root, name); err != nil {
			return err
		}
		if name == "." {
			if hdr.Typeflag == tar.TypeDir {
				x.dirs["."] = dirMeta{hdr.FileInfo().Mode(), hdr.Uid, hdr.Gid, hdr.ModTime}
			}
			continue
		}
		parent, base := path.Split(name)
		parent = strings.TrimSuffix(parent, "/")
		if parent == "" {
			parent = "."
		}
		switch {
		case base == opaqueWhiteout:
			if err := x.opaque(parent, mine); err != nil {
				return err
			}
			continue
		case strings.HasPrefix(base, whiteoutPrefix):
			victim := path.Join(parent, strings.TrimPrefix(base, whiteoutPrefix))
			if err := x.root.RemoveAll(victim); err != nil {
				return fmt.Errorf("apply whiteout %s: %w", hdr.Name, err)
			}
			continue
		}
		if parent != "." {
			if err := x.root.MkdirAll(parent, 0o755); err != nil {
				return fmt.Errorf("create parent of %s: %w", name, err)
			}
		}
		if err := x.entry(name, hdr, tr); err != nil {
			return err
		}
		mine[name] = true
	}
}

// opaque empties dir of everything lower layers put there.
func (x *extractor) opaque(dir string, mine map[string]bool) error {
	f, err := x.root.Open(dir)
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
		if err := x.root.RemoveAll(p); err != nil {
			return fmt.Errorf("apply opaque whiteout in %s: %w", dir, err)
		}
	}
	return nil
}

func (x *extractor) entry(name string, hdr *tar.Header, r io.Reader) error {
	existing, err := x.root.Lstat(name)
	exists := err == nil
	if exists && !(existing.IsDir() && hdr.Typeflag == tar.TypeDir) {
		// An upper layer replaces what is there; a symlink is replaced, never followed.
		if err := x.root.RemoveAll(name); err != nil {
			return fmt.Errorf("replace %s: %w", name, err)
		}
	}
	mode := hdr.FileInfo().Mode()
	switch hdr.Typeflag {
	case tar.TypeDir:
		if !exists || !existing.IsDir() {
			if err := x.root.Mkdir(name, 0o755); err != nil {
				return fmt.Errorf("create dir %s: %w", name, err)
			}
		}
		x.dirs[name] = dirMeta{mode, hdr.Uid, hdr.Gid, hdr.ModTime}
		return nil
	case tar.TypeReg:
		if err := writeFile(x.root, name, r); err != nil {
			return err
		}
		return x.setMeta(name, mode, hdr.Uid, hdr.Gid, hdr.ModTime)
	case tar.TypeSymlink:
		if err := x.root.Symlink(hdr.Linkname, name); err != nil {
			return fmt.Errorf("create symlink %s: %w", name, err)
		}
		if x.asRoot {
			if err := x.root.Lchown(name, hdr.Uid, hdr.Gid); err != nil {
				return fmt.Errorf("chown symlink %s: %w", name, err)
			}
		}
		return nil
	case tar.TypeLink:
		target, err := entryName(hdr.Linkname)
		if err != nil {
			return err
		}
		if target, err = resolveParent(x.root, target); err != nil {
			return err
		}
		// The link shares the target's inode, owner and mode.
		if err := x.root.Link(target, name); err != nil {
			return fmt.Errorf("create hard link %s to %s: %w", name, target, err)
		}
		return nil
	default:
		return nil // devices, fifos, sockets: bwrap provides /dev; nothing else belongs in a rootfs
	}
}

func (x *extractor) setMeta(name string, mode fs.FileMode, uid, gid int, mtime time.Time) error {
	if x.asRoot {
		if err := x.root.Lchown(name, uid, gid); err != nil {
			return fmt.Errorf("chown %s: %w", name, err)
		}
	}
	// After chown, which clears setuid/setgid bits.
	if err := x.root.Chmod(name, mode.Perm()|mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
		return fmt.Errorf("chmod %s: %w", name, err)
	}
	if err := x.root.Chtimes(name, mtime, mtime); err != nil {
		return fmt.Errorf("set mtime of %s: %w", name, err)
	}
	return nil
}

// entryName cleans a tar entry name to a path relative to the rootfs and rejects names
// that climb out of it; os.Root additionally refuses to follow symlinks out of it.
func entryName(n string) (string, error) {
	c := path.Clean("/" + n)
	if strings.Contains("/"+n+"/", "/../") {
		return "", fmt.Errorf("layer entry %q escapes the rootfs; the image is malformed or malicious", n)
	}
	if c == "/" {
		return ".", nil
	}
	return c[1:], nil
}

// resolveParent rewrites name so that no directory component is a symlink, resolving
// symlinks the way they will resolve inside the sandbox: absolute targets from the
// rootfs, ".." stopping at its top. Layers may write through such links (Debian's
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
			resolved = append(resolved, c) // a dir, or not there yet (MkdirAll makes it)
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

func writeFile(root *os.Root, name string, r io.Reader) error {
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

func ensureMountPoints(root *os.Root, asRoot bool) error {
	for _, mp := range mountPoints {
		fi, err := root.Lstat(mp.name)
		if err == nil && fi.IsDir() {
			continue
		}
		if err == nil { // a file or symlink in the way: the sandbox needs a real dir here
			if err := root.RemoveAll(mp.name); err != nil {
				return fmt.Errorf("replace %s with a mount point: %w", mp.name, err)
			}
		}
		if err := root.Mkdir(mp.name, 0o755); err != nil {
			return fmt.Errorf("create mount point /%s: %w", mp.name, err)
		}
		if err := root.Chmod(mp.name, mp.mode); err != nil {
			return fmt.Errorf("create mount point /%s: %w", mp.name, err)
		}
	}
	// resolv.conf is bound from the host for DNS; it must be a regular file to bind onto
	// (images often ship a symlink into /run, which does not exist in the sandbox).
	rc := strings.TrimPrefix(resolvConf, "/")
	if fi, err := root.Lstat(rc); err != nil || !fi.Mode().IsRegular() {
		if err := root.MkdirAll(path.Dir(rc), 0o755); err != nil {
			return fmt.Errorf("create /etc: %w", err)
		}
		if err := root.RemoveAll(rc); err != nil {
			return fmt.Errorf("replace %s: %w", resolvConf, err)
		}
		if err := root.WriteFile(rc, nil, 0o644); err != nil {
			return fmt.Errorf("create %s: %w", resolvConf, err)
		}
		if asRoot {
			if err := root.Lchown(rc, 0, 0); err != nil {
				return fmt.Errorf("chown %s: %w", resolvConf, err)
			}
		}
	}
	return nil
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// lockFile takes an exclusive flock on p, polling so ctx can cancel the wait.
func lockFile(ctx context.Context, p string) (func(), error) {
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", p, err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", p, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("wait for lock %s: %w", p, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// flushFS flushes the whole filesystem holding dir once, instead of fsyncing each of the
// rootfs's thousands of files, before the rename publishes it.
func flushFS(dir string) error {
	if _, err := os.Stat(dir); err != nil {
		return err
	}
	syscall.Sync() // flushFS(2) would be narrower, but the syscall package lacks it
	return nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
