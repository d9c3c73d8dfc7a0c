//go:build !unix

package layer

import "io/fs"

type inode struct{ dev, ino uint64 }

// fileInode: without inode numbers every name is archived as a regular file.
func fileInode(fs.FileInfo) (inode, bool) { return inode{}, false }

// statKey: without inode data only the mtime identifies a version of a file.
func statKey(fi fs.FileInfo) [6]int64 { return [6]int64{fi.ModTime().UnixNano()} }
