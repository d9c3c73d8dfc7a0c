package nofollow

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// MaxFileSize bounds ReadFile: metadata files are small, and a file claiming more is
// refused rather than read into memory.
const MaxFileSize = 32 << 20

// LinkError says a path goes through, or ends at, a symbolic link or a non-regular file.
type LinkError struct {
	Path string
	What string
}

func (e *LinkError) Error() string {
	return fmt.Sprintf("%s is %s; Slipway does not follow links or read special files written by buildpacks or images (it could reach host files)", e.Path, e.What)
}

// Open opens the regular file rel (slash-separated, relative) under dir for reading. No
// component of rel may be a symbolic link, "..", or absolute, and the file must be a regular
// file: a FIFO or device is refused without blocking. A missing file yields an error
// satisfying errors.Is(err, fs.ErrNotExist).
func Open(dir, rel string) (*os.File, error) {
	parts, err := split(rel)
	if err != nil {
		return nil, err
	}
	fd, err := walk(dir, parts[:len(parts)-1], rel)
	if err != nil {
		return nil, err
	}
	defer syscall.Close(fd)
	full := filepath.Join(dir, filepath.FromSlash(rel))
	last := parts[len(parts)-1]
	nfd, err := openat(fd, last, syscall.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_NOCTTY)
	if err != nil {
		return nil, pathErr(full, err)
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(nfd, &st); err != nil {
		syscall.Close(nfd)
		return nil, &fs.PathError{Op: "stat", Path: full, Err: err}
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		syscall.Close(nfd)
		return nil, &LinkError{Path: full, What: "not a regular file"}
	}
	// Reads of a regular file never block; clear O_NONBLOCK all the same.
	if err := syscall.SetNonblock(nfd, false); err != nil {
		syscall.Close(nfd)
		return nil, err
	}
	return os.NewFile(uintptr(nfd), full), nil
}

// ReadFile reads the regular file rel under dir as Open does, refusing one larger than
// MaxFileSize.
func ReadFile(dir, rel string) ([]byte, error) {
	f, err := Open(dir, rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", f.Name(), err)
	}
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("read %s: larger than %d MiB, too large for a metadata file", f.Name(), MaxFileSize>>20)
	}
	return b, nil
}

// ReadDir lists the directory rel under dir ("." for dir itself), refusing a path through a
// symbolic link. Entries are returned as they are (a symlink entry is reported as one).
func ReadDir(dir, rel string) ([]fs.DirEntry, error) {
	var parts []string
	if rel != "." && rel != "" {
		p, err := split(rel)
		if err != nil {
			return nil, err
		}
		parts = p
	}
	fd, err := walk(dir, parts, rel)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), filepath.Join(dir, filepath.FromSlash(rel)))
	defer f.Close()
	return f.ReadDir(-1)
}

func split(rel string) ([]string, error) {
	if rel == "" || strings.HasPrefix(rel, "/") {
		return nil, fmt.Errorf("open %q: want a relative path", rel)
	}
	parts := strings.Split(rel, "/")
	for _, p := range parts {
		if p == "" || p == "." || p == ".." {
			return nil, fmt.Errorf("open %q: the path must not contain empty, '.' or '..' components", rel)
		}
	}
	return parts, nil
}

// walk opens dir and then each of parts as a directory, never following a symlink, and
// returns the last descriptor.
func walk(dir string, parts []string, rel string) (int, error) {
	fd, err := openat(atFDCWD, dir, syscall.O_RDONLY|syscall.O_DIRECTORY)
	if err != nil {
		return -1, pathErr(dir, err)
	}
	cur := dir
	for _, p := range parts {
		cur = filepath.Join(cur, p)
		nfd, err := openat(fd, p, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW)
		syscall.Close(fd)
		if err != nil {
			return -1, pathErr(cur, err)
		}
		fd = nfd
	}
	return fd, nil
}

const atFDCWD = -0x64

func openat(dirfd int, name string, flags int) (int, error) {
	for {
		fd, err := syscall.Openat(dirfd, name, flags|syscall.O_CLOEXEC, 0)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		return fd, err
	}
}

// pathErr turns the errno of an O_NOFOLLOW open into a LinkError where a link was met.
func pathErr(p string, err error) error {
	switch {
	case errors.Is(err, syscall.ELOOP):
		return &LinkError{Path: p, What: "a symbolic link"}
	case errors.Is(err, syscall.ENOTDIR):
		if fi, lerr := os.Lstat(p); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return &LinkError{Path: p, What: "a symbolic link"}
		}
		return &LinkError{Path: p, What: "not a directory"}
	}
	return &fs.PathError{Op: "open", Path: p, Err: err}
}
