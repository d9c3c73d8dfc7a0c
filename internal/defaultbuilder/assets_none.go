//go:build !embedassets

package defaultbuilder

import "io/fs"

func assets() fs.FS { return nil }
