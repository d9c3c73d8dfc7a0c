package e2ekit

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

// PackagedBuildpacks are slipway's own buildpacks as buildpack directories, by id.
func PackagedBuildpacks(t *testing.T) map[string]string {
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

// OurBuilder writes a builder.toml in the default builder's shape: one group of slipway's
// buildpacks ids, in order, with slipway/procfile optional after them (slipway/apt is
// optional too, as there), then — when procfileAlone — a group of slipway/procfile alone.
func OurBuilder(t *testing.T, buildImage, runImage string, procfileAlone bool, ids ...string) string {
	t.Helper()
	bps := PackagedBuildpacks(t)
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
	WriteFile(t, path, b.String())
	return path
}

// StackBuilder is a builder.toml with the hello fixture buildpack on the given images.
func StackBuilder(t *testing.T, buildImage, runImage string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "builder.toml")
	WriteFile(t, path, fmt.Sprintf(`
[[buildpacks]]
  uri = %q
[[order]]
  [[order.group]]
    id = "test/hello"
    version = "1.0.0"
[build]
  image = %q
[[run.images]]
  image = %q
`, Testdata("buildpacks", "hello"), buildImage, runImage))
	return path
}
