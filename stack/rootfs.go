package stack

import (
	"archive/tar"
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/slipway/slipway/platform"
)

// DefaultPath is the PATH of a Debian-like base image.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Epoch is the timestamp of every entry and of the image itself unless Config.Created is
// set: 1980-01-01T00:00:01Z, the lifecycle's reproducible time (platform.md, Build Reproducibility).
var epoch = time.Date(1980, 1, 1, 0, 0, 1, 0, time.UTC)

// Config describes the base image FromRootfs makes.
type Config struct {
	// UID and GID are the CNB user: the image's User is "UID:GID" (platform.md, Build Image).
	UID, GID int
	// Build marks a build image: its Env also carries CNB_USER_ID and CNB_GROUP_ID
	// (platform.md, Build Image). A run image has only PATH.
	Build bool
	// Env entries (NAME=value) added after PATH and the CNB user variables.
	Env []string
	// Maintainer becomes io.buildpacks.base.maintainer when set.
	Maintainer string
	// StackID becomes the legacy io.buildpacks.stack.id label when set.
	StackID string
	// Labels are extra labels; they override the computed ones.
	Labels map[string]string
	// OS, Architecture and Variant default to the running platform.
	OS, Architecture, Variant string
	// Created is the image creation time; zero means the reproducible 1980 epoch. Pass
	// SOURCE_DATE_EPOCH here when the platform sets it (platform.md, Build Reproducibility).
	Created time.Time
	// TempDir holds the layer tar while the image is in use; empty means os.TempDir().
	TempDir string
}

// FromRootfs makes a single-layer OCI image from the root filesystem in dir. The layer is
// reproducible: entries sorted, every mtime the 1980 epoch, owner and mode taken from
// disk (a rootfs's ownership is part of its meaning), names blank. Device nodes, fifos
// and sockets are left out and /proc, /sys and /dev are kept empty: a container runtime
// provides them. The tar is streamed to an unlinked temp file, never held in memory;
// the file lives as long as the returned image is reachable.
//
// Distro labels come from the rootfs's /etc/os-release ID and VERSION_ID, which is also
// what target matching reads when an image lacks them (buildpack.md, Phase #1: Detection (targets)).
func FromRootfs(ctx context.Context, dir string, cfg Config) (v1.Image, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open rootfs %s: %w", dir, err)
	}
	defer root.Close()

	f, err := os.CreateTemp(cfg.TempDir, "slipway-rootfs-*.tar")
	if err != nil {
		return nil, fmt.Errorf("create temp file for rootfs layer of %s: %w", dir, err)
	}
	// Unlinked at once: nothing is left behind however the process ends; readers use the
	// open descriptor.
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("create temp file for rootfs layer of %s: %w", dir, err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := writeTar(ctx, dir, bw); err != nil {
		f.Close()
		return nil, fmt.Errorf("archive rootfs %s: %w", dir, err)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return nil, fmt.Errorf("archive rootfs %s: %w", dir, err)
	}
	size, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("archive rootfs %s: %w", dir, err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(io.NewSectionReader(f, 0, size)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("hash rootfs layer of %s: %w", dir, err)
	}

	created := cfg.Created
	if created.IsZero() {
		created = epoch
	}
	labels := map[string]string{}
	if name, version, ok := osRelease(root); ok {
		labels[platform.LabelDistroName] = name
		labels[platform.LabelDistroVersion] = version
	}
	if cfg.Maintainer != "" {
		labels[platform.LabelMaintainer] = cfg.Maintainer
	}
	if cfg.StackID != "" {
		labels[platform.LabelStackID] = cfg.StackID
	}
	for k, v := range cfg.Labels {
		labels[k] = v
	}
	env := []string{"PATH=" + DefaultPath}
	if cfg.Build {
		env = append(env, "CNB_USER_ID="+strconv.Itoa(cfg.UID), "CNB_GROUP_ID="+strconv.Itoa(cfg.GID))
	}
	env = append(env, cfg.Env...)
	osName, arch := cfg.OS, cfg.Architecture
	if osName == "" {
		osName = runtime.GOOS
	}
	if arch == "" {
		arch = runtime.GOARCH
	}

	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	img, err := mutate.AppendLayers(base, plainLayer{layer})
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("assemble image from %s: %w", dir, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("assemble image from %s: %w", dir, err)
	}
	cf = cf.DeepCopy()
	cf.Created = v1.Time{Time: created}
	cf.History = []v1.History{{Created: v1.Time{Time: created}, CreatedBy: "slipway: base image from rootfs"}}
	cf.OS = osName
	cf.Architecture = arch
	cf.Variant = cfg.Variant
	cf.Config.User = fmt.Sprintf("%d:%d", cfg.UID, cfg.GID)
	cf.Config.Env = env
	cf.Config.Labels = labels
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("assemble image from %s: %w", dir, err)
	}
	return img, nil
}

// plainLayer hides the tarball layer's Descriptor method, whose empty (non-nil)
// annotation map makes the in-memory manifest differ from its own JSON and so fail
// validate.Image; without it the descriptor is built from digest, size and media type.
type plainLayer struct{ v1.Layer }

// emptyDirs are kept as directories without their contents: a container runtime mounts
// its own /proc, /sys and /dev (debootstrap leaves device nodes in /dev).
var emptyDirs = map[string]bool{"proc": true, "sys": true, "dev": true}

func writeTar(ctx context.Context, dir string, w io.Writer) error {
	tw := tar.NewWriter(w)
	inodes := map[[2]uint64]string{} // dev+inode of files seen → first name, for hard links
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		name := filepath.ToSlash(rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("stat %s: no ownership information on this platform", p)
		}
		hdr := &tar.Header{
			Name:    name,
			Mode:    int64(fi.Mode().Perm()),
			Uid:     int(st.Uid),
			Gid:     int(st.Gid),
			ModTime: epoch,
			Format:  tar.FormatPAX,
		}
		if fi.Mode()&fs.ModeSetuid != 0 {
			hdr.Mode |= 0o4000
		}
		if fi.Mode()&fs.ModeSetgid != 0 {
			hdr.Mode |= 0o2000
		}
		if fi.Mode()&fs.ModeSticky != 0 {
			hdr.Mode |= 0o1000
		}
		var body *os.File
		switch {
		case fi.IsDir():
			hdr.Typeflag = tar.TypeDir
			hdr.Name += "/"
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			hdr.Typeflag = tar.TypeSymlink
			hdr.Linkname = target
		case fi.Mode().IsRegular():
			key := [2]uint64{uint64(st.Dev), st.Ino}
			if first, seen := inodes[key]; seen && st.Nlink > 1 {
				hdr.Typeflag = tar.TypeLink
				hdr.Linkname = first
				break
			}
			if st.Nlink > 1 {
				inodes[key] = name
			}
			hdr.Typeflag = tar.TypeReg
			hdr.Size = fi.Size()
			body, err = os.Open(p)
			if err != nil {
				return err
			}
		default:
			return nil // devices, fifos, sockets
		}
		if err := tw.WriteHeader(hdr); err != nil {
			if body != nil {
				body.Close()
			}
			return err
		}
		if body != nil {
			n, err := io.Copy(tw, body)
			body.Close()
			if err != nil {
				return fmt.Errorf("copy %s: %w", p, err)
			}
			if n != hdr.Size {
				return fmt.Errorf("copy %s: file changed size while archiving", p)
			}
		}
		if fi.IsDir() && emptyDirs[name] {
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// OSRelease reads ID and VERSION_ID from the os-release file of the root filesystem at dir.
func OSRelease(dir string) (name, version string, ok bool) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return "", "", false
	}
	defer root.Close()
	return osRelease(root)
}

// osRelease reads ID and VERSION_ID from /etc/os-release, falling back to
// /usr/lib/os-release as os-release(5) says.
func osRelease(root *os.Root) (name, version string, ok bool) {
	var data []byte
	var err error
	for _, p := range []string{"etc/os-release", "usr/lib/os-release"} {
		data, err = root.ReadFile(p)
		if err == nil {
			break
		}
	}
	if err != nil {
		return "", "", false
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, found := strings.Cut(strings.TrimSpace(line), "=")
		if !found {
			continue
		}
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		} else {
			v = strings.Trim(v, `"'`)
		}
		switch k {
		case "ID":
			name = v
		case "VERSION_ID":
			version = v
		}
	}
	return name, version, name != ""
}
