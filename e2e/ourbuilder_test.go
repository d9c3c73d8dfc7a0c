package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/slipway/slipway/buildpacks/dist"
)

// ourBuildpacks are slipway's buildpacks compiled once per test binary.
var ourBuildpacks struct {
	once sync.Once
	dirs map[string]string
	err  error
}

func packagedBuildpacks(t *testing.T) map[string]string {
	t.Helper()
	ourBuildpacks.once.Do(func() {
		dir, err := os.MkdirTemp("", "slipway-e2e-bps-")
		if err != nil {
			ourBuildpacks.err = err
			return
		}
		ourBuildpacks.dirs, ourBuildpacks.err = dist.Package(context.Background(), dir, dist.Options{})
	})
	if ourBuildpacks.err != nil {
		t.Fatal(ourBuildpacks.err)
	}
	return ourBuildpacks.dirs
}

// ourBuilder writes a builder.toml in the default builder's shape: one group of slipway's
// buildpacks ids, in order, with slipway/procfile optional after them (slipway/apt is
// optional too, as there), then — when procfileAlone — a group of slipway/procfile alone.
func ourBuilder(t *testing.T, buildImage, runImage string, procfileAlone bool, ids ...string) string {
	t.Helper()
	bps := packagedBuildpacks(t)
	var b strings.Builder
	for _, id := range append(ids, "slipway/procfile") {
		fmt.Fprintf(&b, "[[buildpacks]]\n  uri = %q\n", bps[id])
	}
	b.WriteString("\n[[order]]\n")
	for _, id := range ids {
		fmt.Fprintf(&b, "  [[order.group]]\n    id = %q\n    version = \"0.1.0\"\n", id)
		if id == "slipway/apt" {
			b.WriteString("    optional = true\n")
		}
	}
	b.WriteString("  [[order.group]]\n    id = \"slipway/procfile\"\n    version = \"0.1.0\"\n    optional = true\n")
	if procfileAlone {
		b.WriteString("\n[[order]]\n  [[order.group]]\n    id = \"slipway/procfile\"\n    version = \"0.1.0\"\n")
	}
	fmt.Fprintf(&b, "\n[build]\n  image = %q\n\n[[run.images]]\n  image = %q\n", buildImage, runImage)
	path := filepath.Join(t.TempDir(), "builder.toml")
	writeFile(t, path, b.String())
	return path
}
