package stack

import (
	"fmt"
	"os"
	"strings"

	"github.com/slipway/slipway/debian"
)

// writeAptSources makes the stack's recorded apt sources (debian.StackSourcesFile, with
// signed-by keyrings inside the image) the system's /etc/apt/sources.list when the build
// image has apt, so that apt-get in the build image — classic Aptfile-style buildpacks run
// `apt-get download` (docs/classic-buildpacks.md) — reads the same Debian release the run
// image was made from. An image without apt is left as it is.
func writeAptSources(root *os.Root, installed []string) error {
	hasApt := false
	for _, p := range installed {
		hasApt = hasApt || p == "apt"
	}
	if !hasApt {
		return nil
	}
	list, err := root.ReadFile(strings.TrimPrefix(debian.StackSourcesFile, "/"))
	if err != nil {
		return fmt.Errorf("write /etc/apt/sources.list: %w", err)
	}
	if err := root.MkdirAll("etc/apt", 0o755); err != nil {
		return fmt.Errorf("write /etc/apt/sources.list: %w", err)
	}
	if err := root.WriteFile("etc/apt/sources.list", list, 0o644); err != nil {
		return fmt.Errorf("write /etc/apt/sources.list: %w", err)
	}
	return nil
}
