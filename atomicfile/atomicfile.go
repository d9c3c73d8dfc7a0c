// Package atomicfile writes files so that a reader sees either the old content or the new,
// never a part of it, even after a crash: the bytes go to a temp file in the same directory,
// which is synced, given its mode and renamed over the target; then the directory is synced.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// File is a file being written; nothing is visible at its path until Commit.
type File struct {
	f       *os.File
	path    string
	perm    fs.FileMode
	modTime time.Time
	done    bool
}

// Create starts writing path with mode perm. The directory must exist.
func Create(path string, perm fs.FileMode) (*File, error) {
	f, err := os.CreateTemp(filepath.Dir(path), TempPrefix(path)+"*")
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return &File{f: f, path: path, perm: perm}, nil
}

// Write writes to the temp file.
func (a *File) Write(p []byte) (int, error) { return a.f.Write(p) }

// SetModTime makes Commit give the file mtime t (zero: the time of writing).
func (a *File) SetModTime(t time.Time) { a.modTime = t }

// Commit makes the content durable and visible at the path.
func (a *File) Commit() error { return a.CommitWith(nil) }

// CommitWith is Commit with a step run after the content is durable and before it replaces
// the old file (tests use it to simulate a crash at that point).
func (a *File) CommitWith(beforeRename func() error) error {
	if a.done {
		return fmt.Errorf("write %s: already committed or aborted", a.path)
	}
	a.done = true
	tmp := a.f.Name()
	err := a.f.Chmod(a.perm)
	if err == nil {
		err = a.f.Sync()
	}
	if cerr := a.f.Close(); err == nil {
		err = cerr
	}
	if err == nil && !a.modTime.IsZero() {
		err = os.Chtimes(tmp, a.modTime, a.modTime)
	}
	if err == nil && beforeRename != nil {
		err = beforeRename()
	}
	if err == nil {
		err = os.Rename(tmp, a.path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", a.path, err)
	}
	return syncDir(filepath.Dir(a.path))
}

// Abort discards what was written; the path keeps its old content. It is a no-op after
// Commit, so `defer f.Abort()` is the usual way to clean up.
func (a *File) Abort() {
	if a.done {
		return
	}
	a.done = true
	a.f.Close()
	os.Remove(a.f.Name())
}

// Write replaces path with data.
func Write(path string, data []byte, perm fs.FileMode) error {
	return WriteFrom(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteFrom replaces path with what write produces; when write fails, path is unchanged.
func WriteFrom(path string, perm fs.FileMode, write func(io.Writer) error) error {
	f, err := Create(path, perm)
	if err != nil {
		return err
	}
	defer f.Abort()
	if err := write(f); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Commit()
}

// syncDir makes a rename in dir durable. Some filesystems cannot sync a directory; that is
// not an error.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) && !errors.Is(err, errors.ErrUnsupported) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// TempPrefix is the name prefix of the temp files written for path, so a store can remove
// the ones an interrupted write left behind.
func TempPrefix(path string) string { return "." + filepath.Base(path) + ".tmp-" }
