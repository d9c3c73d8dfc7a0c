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

// statKey is what identifies one version of a file on disk beyond its size and mode: inode,
// device, link count, mtime and ctime in nanoseconds. Any write, chmod, chown, rename over or
// re-creation changes at least one of them (docs/architecture.md, "Never do work twice").
func statKey(fi fs.FileInfo) [6]int64 {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return [6]int64{fi.ModTime().UnixNano()}
	}
	return [6]int64{int64(st.Ino), int64(st.Dev), int64(st.Nlink),
		st.Mtim.Sec*1e9 + st.Mtim.Nsec, st.Ctim.Sec*1e9 + st.Ctim.Nsec, int64(st.Uid)<<32 | int64(st.Gid)}
}
