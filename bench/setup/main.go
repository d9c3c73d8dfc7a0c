// Command setup prepares a benchmark environment for bench/rebuild.sh: a local image store
// holding the e2e test build and run images (read from the OCI layouts that the e2e tests
// cache under $SLIPWAY_TEST_CACHE, default /var/tmp/slipway-test-cache), and a builder.toml
// naming them with the bench fixture buildpacks.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/slipway/slipway/imagestore"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: setup STORE BUILDER_TOML BUILDPACKS_DIR")
		os.Exit(2)
	}
	if err := run(context.Background(), os.Args[1], os.Args[2], os.Args[3]); err != nil {
		fmt.Fprintln(os.Stderr, "setup:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, storeDir, builderTOML, bpDir string) error {
	cache := os.Getenv("SLIPWAY_TEST_CACHE")
	if cache == "" {
		cache = "/var/tmp/slipway-test-cache"
	}
	s, err := imagestore.Open(storeDir)
	if err != nil {
		return err
	}
	for _, im := range []struct{ dir, name string }{
		{"build", "slipway-bench/build:bookworm"},
		{"run", "slipway-bench/run:bookworm"},
	} {
		img, err := readLayout(filepath.Join(cache, "images-v1", im.dir))
		if err != nil {
			return fmt.Errorf("%w (run `go test ./internal/testimages/` as root once to create it)", err)
		}
		if _, err := s.Write(ctx, im.name, img); err != nil {
			return err
		}
	}
	toml := fmt.Sprintf(`[[buildpacks]]
  uri = %q
[[buildpacks]]
  uri = %q

[[order]]
  [[order.group]]
    id = "bench/deps"
    version = "1.0.0"
    optional = true
  [[order.group]]
    id = "bench/app"
    version = "1.0.0"

[build]
  image = "slipway-bench/build:bookworm"

[[run.images]]
  image = "slipway-bench/run:bookworm"
`, filepath.Join(bpDir, "deps"), filepath.Join(bpDir, "app"))
	return os.WriteFile(builderTOML, []byte(toml), 0o644)
}

func readLayout(dir string) (v1.Image, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("read OCI layout %s: %w", dir, err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("read OCI layout %s: %w", dir, err)
	}
	m, err := idx.IndexManifest()
	if err != nil || len(m.Manifests) != 1 {
		return nil, fmt.Errorf("read OCI layout %s: want one manifest (%v)", dir, err)
	}
	return p.Image(m.Manifests[0].Digest)
}
