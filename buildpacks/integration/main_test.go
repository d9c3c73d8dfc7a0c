package integration

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/slipway/slipway/buildpacks/dist"
)

// buildpacksDir holds the packaged buildpacks (real static binaries), like /cnb/buildpacks.
var buildpacksDir string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "slipway-buildpacks-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if _, err := dist.Package(context.Background(), dir, dist.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	buildpacksDir = dir
	return m.Run()
}
