package nodejs

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// depsInstaller installs node_modules into a layer, keyed by the lockfile, package.json
// dependency fields, Node.js version and package manager.
type depsInstaller struct {
	bc       sdk.BuildContext
	dir      string // the project directory (app root or BP_NODE_PROJECT_PATH)
	pm       PackageManager
	pkg      *PackageJSON
	env      []string
	node     string
	cacheDir string
	registry string
	out      io.Writer
	// static is set when slipway/web-server serves the build output: the dependencies
	// serve the build scripts only and no module layer is in the image.
	static bool
}

// rootInstallScripts are the app's own lifecycle scripts that npm, yarn and pnpm run after
// installing. The install runs in a layer on a copy of package.json, where the app's sources
// are absent, so they are taken out of that copy and run in the project directory instead
// (TypeScript apps commonly compile in postinstall).
var rootInstallScripts = []string{"preinstall", "install", "postinstall", "prepare"}

// run installs the dependencies, runs the app's install and build scripts with dev
// dependencies, and links the project's node_modules to the modules the image gets.
func (d depsInstaller) run(ctx context.Context, cfg Config) error {
	log := d.bc.Log
	appModules := filepath.Join(d.dir, "node_modules")
	vendored := false
	if fi, err := os.Lstat(appModules); err == nil {
		if fi.Mode()&os.ModeSymlink != 0 {
			os.Remove(appModules) // left by an earlier build of this app dir
		} else if fi.IsDir() {
			vendored = true
		}
	}
	scripts, err := d.buildScripts(cfg)
	if err != nil {
		return err
	}
	var rootScripts []string
	for _, s := range rootInstallScripts {
		if strings.TrimSpace(d.pkg.Scripts[s]) != "" {
			rootScripts = append(rootScripts, s)
		}
	}
	if vendored {
		log.Step("Using the app's own node_modules (vendored); not installing dependencies")
	} else {
		log.Step("Package manager: %s (lockfile %s)", d.pm.describe(), orNone(d.pm.Lockfile))
	}
	dev := cfg.DevAtLaunch() && !d.static
	needBuild := len(scripts) > 0 || (len(rootScripts) > 0 && !vendored)
	if needBuild {
		if !vendored {
			name, types := layerBuildModules, sdk.LayerTypes{Build: true, Cache: true}
			if dev {
				// The image keeps dev dependencies: one install serves build and launch.
				name, types = layerLaunchModules, sdk.LayerTypes{Build: true, Launch: true, Cache: true}
			}
			lay, err := d.install(ctx, name, false, types)
			if err != nil {
				return err
			}
			if err := os.Symlink(filepath.Join(lay.Path, "node_modules"), appModules); err != nil {
				return fmt.Errorf("link %s: %w", appModules, err)
			}
			for _, s := range rootScripts {
				log.Step("Running the app's %s script in %s: %s", s, rel(d.bc.AppDir, d.dir), d.pkg.Scripts[s])
				if err := runCommand(ctx, d.dir, d.env, d.out, d.pm.runArgs(s)...); err != nil {
					return err
				}
			}
		}
		caches, err := restoreBuildCaches(d.bc, d.dir)
		if err != nil {
			return err
		}
		for _, s := range scripts {
			log.Step("Running %s script %q: %s", d.pm.Name, s, d.pkg.Scripts[s])
			if err := runCommand(ctx, d.dir, d.env, d.out, d.pm.runArgs(s)...); err != nil {
				return err
			}
		}
		if err := caches.save(); err != nil {
			return err
		}
		if vendored || dev {
			return nil
		}
		if err := os.Remove(appModules); err != nil {
			return fmt.Errorf("unlink %s: %w", appModules, err)
		}
	}
	if vendored || d.static {
		return nil
	}
	lay, err := d.install(ctx, layerLaunchModules, !dev, sdk.LayerTypes{Launch: true, Cache: true})
	if err != nil {
		return err
	}
	// The app finds its modules through <project>/node_modules; Node resolves the link's
	// target, so nested requires work from the layer.
	if err := os.Symlink(filepath.Join(lay.Path, "node_modules"), appModules); err != nil {
		return fmt.Errorf("link %s: %w", appModules, err)
	}
	return nil
}

// buildScripts are the package.json scripts to run at build, in order. A script the user
// named that package.json lacks is an error; the default "build" is skipped when absent.
func (d depsInstaller) buildScripts(cfg Config) ([]string, error) {
	if !cfg.RunBuild {
		return nil, nil
	}
	var out []string
	for _, s := range cfg.Scripts {
		if strings.TrimSpace(d.pkg.Scripts[s]) != "" {
			out = append(out, s)
			continue
		}
		if cfg.ScriptsRequired {
			var have []string
			for k := range d.pkg.Scripts {
				have = append(have, k)
			}
			sort.Strings(have)
			return nil, fmt.Errorf("BP_NODE_RUN_SCRIPTS names script %q, which %s does not define (it has: %s); fix the name or add the script",
				s, filepath.Join(rel(d.bc.AppDir, d.dir), "package.json"), orNone(strings.Join(have, ", ")))
		}
	}
	return out, nil
}

func (d depsInstaller) install(ctx context.Context, name string, prod bool, types sdk.LayerTypes) (*sdk.Layer, error) {
	log := d.bc.Log
	lay, err := d.bc.Layers.Get(name)
	if err != nil {
		return nil, err
	}
	var lock []byte
	if d.pm.Lockfile != "" {
		if lock, err = os.ReadFile(filepath.Join(d.dir, d.pm.Lockfile)); err != nil {
			return nil, fmt.Errorf("read lockfile: %w", err)
		}
	}
	want := map[string]any{"key": d.pkg.DependencyKey(lock), "node": d.node, "package-manager": d.pm.describe(), "production": prod}
	if lay.MetadataMatches(want) && exists(filepath.Join(lay.Path, "node_modules")) {
		log.Step("Reusing node_modules in layer %s (lockfile, dependencies and Node.js unchanged)", name)
	} else {
		args := d.pm.installArgs(prod, d.cacheDir)
		log.Step("Installing node_modules into layer %s: %s", name, strings.Join(args, " "))
		if err := lay.Reset(); err != nil {
			return nil, err
		}
		if err := copyProjectFiles(d.dir, lay.Path); err != nil {
			return nil, err
		}
		if err := stripRootScripts(filepath.Join(lay.Path, "package.json")); err != nil {
			return nil, err
		}
		if d.pm.Name == "yarn" && !d.pm.Berry && d.registry != DefaultNPMRegistry {
			if err := pointYarnLockAt(filepath.Join(lay.Path, "yarn.lock"), d.registry); err != nil {
				return nil, err
			}
		}
		if err := runCommand(ctx, lay.Path, d.env, d.out, args...); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Join(lay.Path, "node_modules"), 0o755); err != nil {
			return nil, err
		}
	}
	// Launch layers put the dependencies' commands on PATH (a start script's
	// "vue-cli-service serve" runs through npm, which adds them too).
	if types.Launch {
		if err := writeEnvIfChanged(lay.LaunchEnv(), "PATH.prepend", filepath.Join(lay.Path, "node_modules", ".bin")); err != nil {
			return nil, err
		}
		if err := writeEnvIfChanged(lay.LaunchEnv(), "PATH.delim", string(os.PathListSeparator)); err != nil {
			return nil, err
		}
	}
	lay.Metadata = want
	lay.Types = types
	if err := lay.Write(); err != nil {
		return nil, err
	}
	return lay, nil
}

// stripRootScripts removes rootInstallScripts from the layer's copy of package.json (see
// rootInstallScripts); the file is rewritten only when it has one.
func stripRootScripts(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	var scripts map[string]json.RawMessage
	if raw, ok := all["scripts"]; !ok || json.Unmarshal(raw, &scripts) != nil {
		return nil
	}
	changed := false
	for _, s := range rootInstallScripts {
		if _, ok := scripts[s]; ok {
			delete(scripts, s)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	if all["scripts"], err = json.Marshal(scripts); err != nil {
		return err
	}
	out, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		return err
	}
	return sdk.WriteFileAtomic(path, append(out, '\n'), 0o644)
}
