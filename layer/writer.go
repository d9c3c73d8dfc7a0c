package layer

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/slipway/slipway/ctxio"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
)

// Epoch is the mtime of every entry unless SOURCE_DATE_EPOCH says otherwise: one second past
// 1980-01-01 UTC, the lifecycle's constant (platform.md, Build Reproducibility; note the one second).
func Epoch() time.Time { return time.Date(1980, 1, 1, 0, 0, 1, 0, time.UTC) }

// ParentDirMode is the mode of directories synthesized above a tree root (e.g. layers/ and
// layers/<bp>/ above layers/<bp>/<layer>).
const ParentDirMode = 0o755

// Options fixes everything about a layer that does not come from the files themselves.
type Options struct {
	// ScratchDir receives the compressed blob file; "" means os.TempDir().
	ScratchDir string
	// MediaType is types.OCILayer (default) or types.DockerLayer; the exporter follows the run
	// image's manifest family so that no image mixes the two.
	MediaType types.MediaType
	// ModTime is written on every entry; zero means Epoch() (platform.md, Build Reproducibility).
	ModTime time.Time
	// UID and GID own every entry taken from a host tree: CNB_USER_ID/CNB_GROUP_ID for
	// buildpack and app layers (platform.md, Build Reproducibility).
	UID, GID int
	// ParentUID and ParentGID own directories synthesized above a tree root, with mode
	// ParentDirMode. The lifecycle copies the build container's owner of those dirs
	// (platform.md, Build Reproducibility); the exporter passes the owner they had there.
	ParentUID, ParentGID int
	// Uncompressed writes the plain tar instead of gzip: the blob is the tar itself and its
	// digest equals its diffID. The volume cache stores layers this way (<diffID>.tar,
	// docs/spec-notes.md, Caches).
	Uncompressed bool
}

// Owner is the uid/gid and permission bits of a synthetic entry.
type Owner struct {
	UID, GID int
	Mode     fs.FileMode
}

// Writer builds one layer. Entries stream through tar → sha256 (diffID) → gzip → sha256
// (digest) + byte count → scratch file; memory stays bounded whatever the layer size.
// A Writer is not safe for concurrent use; run one Writer per goroutine to build layers in
// parallel.
type Writer struct {
	opts    Options
	modTime time.Time

	f      *os.File
	buf    *bufio.Writer
	gz     *gzip.Writer
	tw     *tar.Writer
	diffID hash.Hash
	digest hash.Hash
	size   int64

	written map[string]bool  // entry names already in the tar (dirs are shared by many paths)
	links   map[inode]string // first entry name per multiply-linked host file
	copyBuf []byte
	done    bool
}

// NewWriter creates the scratch file and the pipeline.
func NewWriter(opts Options) (*Writer, error) {
	if opts.MediaType == "" {
		opts.MediaType = types.OCILayer
	}
	w := &Writer{
		opts:    opts,
		modTime: opts.ModTime,
		diffID:  sha256.New(),
		digest:  sha256.New(),
		written: map[string]bool{},
		links:   map[inode]string{},
		copyBuf: make([]byte, 256<<10),
	}
	if w.modTime.IsZero() {
		w.modTime = Epoch()
	}
	w.modTime = w.modTime.UTC().Truncate(time.Second)
	f, err := os.CreateTemp(opts.ScratchDir, "layer-*.tar.gz")
	if err != nil {
		return nil, fmt.Errorf("create layer scratch file in %q: %w", opts.ScratchDir, err)
	}
	w.f = f
	w.buf = bufio.NewWriterSize(io.MultiWriter(f, w.digest, (*counter)(&w.size)), 256<<10)
	// klauspost/compress gzip (already in the module graph via go-containerregistry) measured
	// ~1.8x the throughput of compress/gzip in BenchmarkFromDir. BestSpeed: layers are mostly
	// already-compressed binaries and packages; CPU is better spent on parallel layers.
	if opts.Uncompressed {
		w.tw = tar.NewWriter(io.MultiWriter(w.diffID, w.buf))
		return w, nil
	}
	w.gz, _ = gzip.NewWriterLevel(w.buf, gzip.BestSpeed)
	w.tw = tar.NewWriter(io.MultiWriter(w.diffID, w.gz))
	return w, nil
}

type counter int64

func (c *counter) Write(p []byte) (int, error) { *c += counter(len(p)); return len(p), nil }

// entryName turns an absolute image path into a tar entry name: "/layers/bp" → "layers/bp".
func entryName(imagePath string) (string, error) {
	p := path.Clean("/" + filepath.ToSlash(imagePath))
	if p == "/" {
		return "", fmt.Errorf("image path %q names the root; give a directory below it", imagePath)
	}
	return strings.TrimPrefix(p, "/"), nil
}

// ensureParents writes directory entries for every ancestor of name not yet written.
func (w *Writer) ensureParents(name string) error {
	dir := path.Dir(name)
	if dir == "." || w.written[dir] {
		return nil
	}
	if err := w.ensureParents(dir); err != nil {
		return err
	}
	return w.writeHeader(&tar.Header{
		Typeflag: tar.TypeDir,
		Name:     dir,
		Mode:     ParentDirMode,
		Uid:      w.opts.ParentUID,
		Gid:      w.opts.ParentGID,
	})
}

func (w *Writer) writeHeader(h *tar.Header) error {
	if w.done {
		return errors.New("layer writer already closed")
	}
	h.ModTime = w.modTime
	// Uname and Gname stay blank (platform.md, Build Reproducibility); Format stays unset so the tar writer picks
	// USTAR and falls back to PAX only for long names, deterministically.
	if err := w.tw.WriteHeader(h); err != nil {
		return fmt.Errorf("write tar entry %s: %w", h.Name, err)
	}
	w.written[h.Name] = true
	return nil
}

// AddTree adds hostDir and everything below it, rooted at imagePath, in lexical walk order.
// Symlinks are archived as symlinks and never followed; sockets, devices and fifos are skipped.
func (w *Writer) AddTree(ctx context.Context, hostDir, imagePath string) error {
	root, err := entryName(imagePath)
	if err != nil {
		return err
	}
	// WalkDir reads each directory sorted by name, which gives the lexical walk order the
	// lifecycle uses (platform.md, Build Reproducibility).
	return filepath.WalkDir(hostDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("walk %s: %w", p, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(hostDir, p)
		if err != nil {
			return fmt.Errorf("walk %s: %w", p, err)
		}
		name := root
		if rel != "." {
			name = root + "/" + filepath.ToSlash(rel)
		}
		return w.addHost(ctx, p, name)
	})
}

// AddPath adds the single host entry hostPath (not its children) at imagePath, owned by
// Options.UID/GID. Missing ancestors are synthesized as parent dirs.
func (w *Writer) AddPath(ctx context.Context, hostPath, imagePath string) error {
	name, err := entryName(imagePath)
	if err != nil {
		return err
	}
	return w.addHost(ctx, hostPath, name)
}

func (w *Writer) addHost(ctx context.Context, hostPath, name string) error {
	if w.written[name] {
		return nil
	}
	fi, err := os.Lstat(hostPath)
	if err != nil {
		return fmt.Errorf("stat %s: %w", hostPath, err)
	}
	h := &tar.Header{
		Name: name,
		Mode: tarMode(fi.Mode()),
		Uid:  w.opts.UID,
		Gid:  w.opts.GID,
	}
	switch m := fi.Mode(); {
	case m.IsDir():
		h.Typeflag = tar.TypeDir
	case m&fs.ModeSymlink != 0:
		target, err := os.Readlink(hostPath)
		if err != nil {
			return fmt.Errorf("read symlink %s: %w", hostPath, err)
		}
		h.Typeflag, h.Linkname = tar.TypeSymlink, target
	case m.IsRegular():
		if id, ok := fileInode(fi); ok {
			if first, seen := w.links[id]; seen {
				// A second name for a file already in this layer: a hardlink, as on disk.
				h.Typeflag, h.Linkname = tar.TypeLink, first
				break
			}
			w.links[id] = name
		}
		h.Typeflag, h.Size = tar.TypeReg, fi.Size()
	default:
		// Sockets, devices and fifos cannot be meaningfully shipped in an image layer.
		return nil
	}
	if err := w.ensureParents(name); err != nil {
		return err
	}
	if err := w.writeHeader(h); err != nil {
		return err
	}
	if h.Typeflag == tar.TypeReg {
		return w.copyFile(ctx, hostPath, h.Size)
	}
	return nil
}

// tarMode keeps permission, setuid, setgid and sticky bits.
func tarMode(m fs.FileMode) int64 {
	mode := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	return mode
}

func (w *Writer) copyFile(ctx context.Context, hostPath string, size int64) error {
	f, err := os.Open(hostPath)
	if err != nil {
		return fmt.Errorf("open %s: %w", hostPath, err)
	}
	defer f.Close()
	n, err := io.CopyBuffer(w.tw, io.LimitReader(ctxio.Reader(ctx, f), size), w.copyBuf)
	if err != nil {
		return fmt.Errorf("archive %s: %w", hostPath, err)
	}
	if n != size {
		return fmt.Errorf("archive %s: file shrank from %d to %d bytes while being read", hostPath, size, n)
	}
	return nil
}

// AddFile adds the regular host file hostPath at imagePath with an explicit owner and mode,
// e.g. the launcher at /cnb/lifecycle/launcher, root-owned 0755 (platform.md, Build Reproducibility).
func (w *Writer) AddFile(ctx context.Context, hostPath, imagePath string, o Owner) error {
	name, err := entryName(imagePath)
	if err != nil {
		return err
	}
	fi, err := os.Stat(hostPath)
	if err != nil {
		return fmt.Errorf("stat %s: %w", hostPath, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("add %s to layer: not a regular file", hostPath)
	}
	if err := w.ensureParents(name); err != nil {
		return err
	}
	if err := w.writeHeader(&tar.Header{
		Typeflag: tar.TypeReg, Name: name, Size: fi.Size(),
		Mode: tarMode(o.Mode), Uid: o.UID, Gid: o.GID,
	}); err != nil {
		return err
	}
	return w.copyFile(ctx, hostPath, fi.Size())
}

// AddSymlink adds a symlink imagePath → target, e.g. /cnb/process/web → the launcher.
func (w *Writer) AddSymlink(imagePath, target string, o Owner) error {
	name, err := entryName(imagePath)
	if err != nil {
		return err
	}
	if err := w.ensureParents(name); err != nil {
		return err
	}
	return w.writeHeader(&tar.Header{
		Typeflag: tar.TypeSymlink, Name: name, Linkname: target,
		Mode: tarMode(o.Mode), Uid: o.UID, Gid: o.GID,
	})
}

// AddDir adds a directory entry with an explicit owner.
func (w *Writer) AddDir(imagePath string, o Owner) error {
	name, err := entryName(imagePath)
	if err != nil {
		return err
	}
	if w.written[name] {
		return nil
	}
	if err := w.ensureParents(name); err != nil {
		return err
	}
	return w.writeHeader(&tar.Header{
		Typeflag: tar.TypeDir, Name: name, Mode: tarMode(o.Mode), Uid: o.UID, Gid: o.GID,
	})
}

// Close finishes the tar and gzip streams and returns the layer. The Writer is unusable
// afterwards; on error the scratch file is removed.
func (w *Writer) Close() (*Layer, error) {
	if w.done {
		return nil, errors.New("layer writer already closed")
	}
	w.done = true
	err := w.tw.Close()
	if err == nil && w.gz != nil {
		err = w.gz.Close()
	}
	if err == nil {
		err = w.buf.Flush()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(w.f.Name())
		return nil, fmt.Errorf("finish layer %s: %w", w.f.Name(), err)
	}
	return &Layer{
		path:      w.f.Name(),
		diffID:    sha256Hash(w.diffID),
		digest:    sha256Hash(w.digest),
		size:      w.size,
		mediaType: w.opts.MediaType,
		plain:     w.opts.Uncompressed,
	}, nil
}

// Abort discards a layer being written; safe to call after Close.
func (w *Writer) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.f.Close()
	os.Remove(w.f.Name())
}

func sha256Hash(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
}
