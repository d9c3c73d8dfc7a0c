//go:build !unix

package layer

import "io/fs"

type inode struct{ dev, ino uint64 }

// fileInode: without inode numbers every name is archived as a regular file.
func fileInode(fs.FileInfo) (inode, bool) { return inode{}, false }
