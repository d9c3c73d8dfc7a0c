//go:build unix

package layer

import (
	"io/fs"
	"syscall"
)

type inode struct{ dev, ino uint64 }

// fileInode identifies a file with more than one name, so later names become hardlinks.
func fileInode(fi fs.FileInfo) (inode, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Nlink < 2 {
		return inode{}, false
	}
	return inode{dev: uint64(st.Dev), ino: uint64(st.Ino)}, true
}
