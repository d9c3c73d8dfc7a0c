//go:build embedassets

package defaultbuilder

import (
	"embed"
	"io/fs"
)

// buildpacksDir is written by `go run ./internal/defaultbuilder/gen` (make build).
//
//go:embed all:buildpacks
var embedded embed.FS

func assets() fs.FS {
	sub, err := fs.Sub(embedded, "buildpacks")
	if err != nil {
		return nil
	}
	return sub
}
