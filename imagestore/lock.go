package imagestore

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// Two advisory locks coordinate processes sharing one store:
//
//   - index.lock (exclusive) serialises read-modify-write cycles of index.json, so two builds
//     tagging at once never lose each other's entry;
//   - gc.lock is held shared by every Write from its first blob until its index entry is
//     committed, and exclusively by GC, so GC never deletes a blob that a Write has ingested
//     but not yet referenced.
//
// flock locks belong to the open file description, so each acquisition opens the file afresh:
// that makes them exclude goroutines of one process as well as separate processes, and the
// kernel drops them when a process dies, so a crash never leaves the store locked.
const (
	indexLockFile = "index.lock"
	gcLockFile    = "gc.lock"
)

// flock opens path (creating it) and takes an flock of kind how (syscall.LOCK_SH/LOCK_EX,
// optionally |LOCK_NB). The returned func releases the lock.
func flock(path string, how int) (func() error, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock file %s: %w", path, err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() error {
		// Closing the descriptor releases the flock.
		return f.Close()
	}, nil
}
