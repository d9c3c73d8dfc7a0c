package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipway/slipway/layer"
	"github.com/slipway/slipway/platform"
)

// Directory names inside a volume cache (docs/spec-notes.md, Caches): the committed cache, the next
// one being assembled, and the previous one during the swap.
const (
	committedDir = "committed"
	stagingDir   = "staging"
	backupDir    = "committed-backup"
	scratchDir   = "scratch"
	lockFile     = ".lock"
)

// Dir is a volume cache: <dir>/committed/<diffID>.tar plus committed/<platform.LabelCacheMetadata>, the
// reference lifecycle's layout, so the directory is portable between hosts and tools.
type Dir struct {
	root string
	lock *os.File
	hook func(point string)
}

var _ Cache = (*Dir)(nil)

// DirOptions tune OpenDir.
type DirOptions struct {
	// Waiting is called when another build holds the cache, before blocking on it.
	Waiting func()
	// Hook, when set, is called at named points of Commit ("cache-staged", "cache-swapping",
	// "cache-swapped"); tests make it kill the process to prove crash safety.
	Hook func(point string)
}

// OpenDir opens (creating) the volume cache at root, takes its exclusive lock (so concurrent
// builds sharing it wait for each other) and recovers from an interrupted commit: a missing
// committed/ with a committed-backup/ is the old cache, restored; a leftover staging/ is
// discarded.
func OpenDir(root string, o DirOptions) (*Dir, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("create cache directory %s (--cache-dir): %w", root, err)
	}
	f, err := os.OpenFile(filepath.Join(root, lockFile), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open cache lock in %s: %w", root, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if o.Waiting != nil {
			o.Waiting()
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return nil, fmt.Errorf("lock cache %s: %w", root, err)
		}
	}
	d := &Dir{root: root, lock: f, hook: o.Hook}
	if err := d.recover(); err != nil {
		d.Close()
		return nil, fmt.Errorf("recover cache %s: %w", root, err)
	}
	return d, nil
}

func (d *Dir) path(parts ...string) string {
	return filepath.Join(append([]string{d.root}, parts...)...)
}

func exists(p string) bool { _, err := os.Lstat(p); return err == nil }

func (d *Dir) recover() error {
	committed, backup := d.path(committedDir), d.path(backupDir)
	switch {
	case !exists(committed) && exists(backup):
		// Crashed between the two renames of the swap: the backup is the last good cache.
		if err := os.Rename(backup, committed); err != nil {
			return err
		}
	case exists(backup):
		if err := os.RemoveAll(backup); err != nil {
			return err
		}
	}
	for _, p := range []string{d.path(stagingDir), d.path(scratchDir)} {
		if err := os.RemoveAll(p); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(d.path(scratchDir), 0o755); err != nil {
		return err
	}
	return syncDir(d.root)
}

// Close releases the lock.
func (d *Dir) Close() error {
	if d.lock == nil {
		return nil
	}
	syscall.Flock(int(d.lock.Fd()), syscall.LOCK_UN)
	err := d.lock.Close()
	d.lock = nil
	return err
}

// Root is the cache directory.
func (d *Dir) Root() string { return d.root }

// ScratchDir implements Cache.
func (d *Dir) ScratchDir() string { return d.path(scratchDir) }

// Metadata implements Cache. A metadata file that does not parse is reported as an error so
// the caller can warn and build without the cache.
func (d *Dir) Metadata(context.Context) (*Metadata, error) {
	b, err := os.ReadFile(d.path(committedDir, platform.LabelCacheMetadata))
	if errors.Is(err, os.ErrNotExist) {
		return &Metadata{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read cache metadata: %w", err)
	}
	var m Metadata
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parse cache metadata %s: %w", d.path(committedDir, platform.LabelCacheMetadata), err)
	}
	return &m, nil
}

func tarName(h v1.Hash) string { return h.String() + ".tar" }

// Open implements Cache.
func (d *Dir) Open(_ context.Context, h v1.Hash) (io.ReadCloser, error) {
	f, err := os.Open(d.path(committedDir, tarName(h)))
	if err != nil {
		return nil, fmt.Errorf("open cached layer %s: %w", h, err)
	}
	return f, nil
}

// Has reports whether the committed cache holds the tar of diffID h.
func (d *Dir) Has(h v1.Hash) bool { return exists(d.path(committedDir, tarName(h))) }

// Commit implements Cache: staging/ is filled with hard links to unchanged tars and renames of
// new ones, made durable, and swapped in as committed/ through committed-backup/.
func (d *Dir) Commit(ctx context.Context, meta *Metadata, add map[v1.Hash]*layer.Layer) error {
	staging := d.path(stagingDir)
	if err := os.RemoveAll(staging); err != nil {
		return fmt.Errorf("clear cache staging: %w", err)
	}
	if err := os.MkdirAll(staging, 0o755); err != nil {
		return fmt.Errorf("create cache staging: %w", err)
	}
	for _, b := range meta.Buildpacks {
		for name, l := range b.Layers {
			if err := ctx.Err(); err != nil {
				return err
			}
			h, err := v1.NewHash(l.SHA)
			if err != nil {
				return fmt.Errorf("cache layer %s:%s: bad sha %q: %w", b.ID, name, l.SHA, err)
			}
			dst := filepath.Join(staging, tarName(h))
			if exists(dst) {
				continue
			}
			if nl, ok := add[h]; ok {
				if err := syncFile(nl.Path()); err != nil {
					return err
				}
				if err := os.Link(nl.Path(), dst); err != nil {
					return fmt.Errorf("stage cache layer %s:%s: %w", b.ID, name, err)
				}
				continue
			}
			if err := os.Link(d.path(committedDir, tarName(h)), dst); err != nil {
				return fmt.Errorf("stage cache layer %s:%s: it is neither new nor committed: %w", b.ID, name, err)
			}
		}
	}
	raw, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("encode cache metadata: %w", err)
	}
	if err := writeFileSync(filepath.Join(staging, platform.LabelCacheMetadata), raw); err != nil {
		return err
	}
	if err := syncDir(staging); err != nil {
		return err
	}
	d.at("cache-staged")
	committed, backup := d.path(committedDir), d.path(backupDir)
	if exists(committed) {
		if err := os.Rename(committed, backup); err != nil {
			return fmt.Errorf("swap cache: %w", err)
		}
	}
	d.at("cache-swapping")
	if err := os.Rename(staging, committed); err != nil {
		// Put the old cache back; recover does the same if this process dies here.
		os.Rename(backup, committed)
		return fmt.Errorf("swap cache: %w", err)
	}
	if err := syncDir(d.root); err != nil {
		return err
	}
	d.at("cache-swapped")
	if err := os.RemoveAll(backup); err != nil {
		return fmt.Errorf("remove previous cache: %w", err)
	}
	// New tars were linked into committed/; their scratch names are no longer needed.
	for _, nl := range add {
		os.Remove(nl.Path())
	}
	return nil
}

func (d *Dir) at(point string) {
	if d.hook != nil {
		d.hook(point)
	}
}

func writeFileSync(p string, b []byte) error {
	f, err := os.Create(p)
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", p, err)
	}
	return f.Close()
}

func syncFile(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("sync %s: %w", p, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", p, err)
	}
	return nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
