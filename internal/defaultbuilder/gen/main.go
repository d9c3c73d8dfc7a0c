// Command gen compiles slipway's buildpacks into the directory the default builder embeds
// (make build runs it; make release names the target architecture, default this machine's). bin/detect is left out: embed cannot hold links, so the default
// builder recreates it as a symlink to bin/build (the binaries dispatch on argv0).
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/slipway/slipway/buildpacks/dist"
)

func main() {
	if len(os.Args) != 2 && len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: gen OUTDIR [GOARCH]")
		os.Exit(2)
	}
	out := os.Args[1]
	arch := runtime.GOARCH
	if len(os.Args) == 3 {
		arch = os.Args[2]
	}
	if err := os.RemoveAll(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	dirs, err := dist.Package(context.Background(), out, dist.Options{Arch: arch})
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
