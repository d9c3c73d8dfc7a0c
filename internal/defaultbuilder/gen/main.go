// Command gen compiles slipway's buildpacks into the directory the default builder embeds
// (make build runs it). bin/detect is left out: embed cannot hold links, so the default
// builder recreates it as a symlink to bin/build (the binaries dispatch on argv0).
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/slipway/slipway/buildpacks/dist"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gen OUTDIR")
		os.Exit(2)
	}
	out := os.Args[1]
	if err := os.RemoveAll(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	dirs, err := dist.Package(context.Background(), out, dist.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, d := range dirs {
		if err := os.Remove(filepath.Join(d, "bin", "detect")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}
