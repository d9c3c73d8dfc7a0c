package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipway/slipway/untar"
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

// unpackRules prefixes unpacked directories; change it whenever extract's rules change.
const unpackRules = "nosetid-"

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
// created when the image lacks them. Ownership is restored only when running as root;
// setuid and setgid bits are dropped (docs/sandbox.md).
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
	// The prefix names the unpacking rules: a rootfs unpacked by an older slipway (which
	// kept setuid bits) is not reused.
	dest := filepath.Join(cacheDir, unpackRules+cfgName.Hex)
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

// extract applies the layers bottom-up, as a container runtime does, so an upper entry
// resolves through the symlinks and into the directories of the layers below it. All
// layers share one size budget (untar.LimitEnv), and sparse entries keep their holes.
func extract(ctx context.Context, img v1.Image, dir string) error {
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("list layers: %w", err)
	}
	budget, err := untar.FromEnv()
	if err != nil {
		return err
	}
	x, err := untar.Open(dir, untar.Options{Layer: true, StripSetID: true, Budget: budget})
	if err != nil {
		return err
	}
	for i, l := range layers {
		if err := applyLayer(ctx, x, l); err != nil {
			x.Close()
			d, _ := l.Digest()
			return fmt.Errorf("layer %d (%s): %w", i, d, err)
		}
	}
	if err := ensureMountPoints(x.Root(), os.Geteuid() == 0); err != nil {
		x.Close()
		return err
	}
	return x.Close()
}

func applyLayer(ctx context.Context, x *untar.Dir, l v1.Layer) error {
	rc, err := l.Uncompressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	return x.Apply(ctx, rc)
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
