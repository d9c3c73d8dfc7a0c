package nodejs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// Layer names: the runtime, the package manager's download cache, dependencies with dev
// dependencies (for the build script) and without them (for the image).
const (
	layerNode          = "node"
	layerCache         = "pm-cache"
	layerBuildModules  = "build-modules"
	layerLaunchModules = "launch-modules"
)

// Build installs Node.js, the dependencies and declares the web process (buildpack.md, Build,
// buildpack.md, Layer Types). Layers whose inputs did not change are reused untouched, so the exporter can reuse
// their digests without re-tarring (docs/architecture.md, "Never do work twice").
func Build(ctx context.Context, bc sdk.BuildContext) (sdk.BuildResult, error) {
	log := bc.Log
	log.Title("Slipway Node.js buildpack")
	cfg, err := ReadConfig(bc.Env, bc.PlatformDir)
	if err != nil {
		return sdk.BuildResult{}, err
	}
	pkg, err := ReadPackageJSON(bc.AppDir)
	if err != nil {
		return sdk.BuildResult{}, err
	}
	arch, err := nodeArch(bc.Target.Arch)
	if err != nil {
		return sdk.BuildResult{}, err
	}
	pm, err := DetectPackageManager(bc.AppDir)
	if err != nil {
		return sdk.BuildResult{}, err
	}
	tmp, err := os.MkdirTemp("", "slipway-nodejs-")
	if err != nil {
		return sdk.BuildResult{}, fmt.Errorf("create temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)

	fetcher := &sdk.Fetcher{}
	reg := registry{base: cfg.Registry, fetcher: fetcher}
	var src Source = officialSource{base: cfg.Mirror, arch: arch, fetcher: fetcher}
	if cfg.Source == "npm" {
		src = npmSource{reg: reg, arch: arch}
	}

	nodeLayer, version, err := contributeNode(ctx, bc, cfg, pkg, src, reg, pm, tmp)
	if err != nil {
		return sdk.BuildResult{}, err
	}

	cacheLayer, err := bc.Layers.Get(layerCache)
	if err != nil {
		return sdk.BuildResult{}, err
	}
	cacheLayer.Types = sdk.LayerTypes{Cache: true}
	if err := cacheLayer.Write(); err != nil {
		return sdk.BuildResult{}, err
	}
	env := bc.Env.List(
		"PATH="+filepath.Join(nodeLayer.Path, "bin")+string(os.PathListSeparator)+bc.Env.Get("PATH"),
		"npm_config_registry="+cfg.Registry+"/",
		"npm_config_update_notifier=false",
		"npm_config_fund=false",
		"COREPACK_HOME="+filepath.Join(cacheLayer.Path, "corepack"),
		"COREPACK_ENABLE_DOWNLOAD_PROMPT=0",
		"COREPACK_ENABLE_STRICT=0",
		"COREPACK_NPM_REGISTRY="+cfg.Registry,
		"YARN_REGISTRY="+cfg.Registry,
		"YARN_NPM_REGISTRY_SERVER="+cfg.Registry,
		"YARN_CACHE_FOLDER="+filepath.Join(cacheLayer.Path, "yarn-berry"),
		"YARN_ENABLE_GLOBAL_CACHE=false",
		"YARN_ENABLE_TELEMETRY=0",
		"YARN_ENABLE_PROGRESS_BARS=false",
	)
	// yarn berry refuses plain-HTTP registries unless their host is whitelisted; a mirror the
	// user configured over http:// (typical inside an air-gapped network) is meant to be used.
	if u, err := url.Parse(cfg.Registry); err == nil && u.Scheme == "http" && u.Hostname() != "" {
		env = append(env, "YARN_UNSAFE_HTTP_WHITELIST="+u.Hostname())
	}
	if ca := extraCACerts(bc.Env, bc.PlatformDir, SystemCABundle); ca != "" {
		// Build env only: the launch image keeps Node's defaults unless the user sets it.
		env = append(env, "NODE_EXTRA_CA_CERTS="+ca)
		log.Detail("NODE_EXTRA_CA_CERTS=%s (system CA bundle, for proxies and private registries)", ca)
	}
	for _, b := range bc.Env.Bindings(bc.PlatformDir, "npmrc") {
		// A service binding of type npmrc supplies registry credentials without putting
		// them in the app or the image (servicebinding.io).
		env = append(env, "npm_config_userconfig="+filepath.Join(b.Path, ".npmrc"))
		log.Step("Using .npmrc from binding %s", b.Name)
	}
	d := depsInstaller{bc: bc, pm: pm, pkg: pkg, env: env, node: version.String(),
		cacheDir: filepath.Join(cacheLayer.Path, pm.Name), registry: cfg.Registry, out: log.Writer()}

	appModules := filepath.Join(bc.AppDir, "node_modules")
	vendored := false
	if fi, err := os.Lstat(appModules); err == nil {
		if fi.Mode()&os.ModeSymlink != 0 {
			os.Remove(appModules) // left by an earlier build of this app dir
		} else if fi.IsDir() {
			vendored = true
		}
	}
	runBuild := cfg.RunBuild && pkg.Scripts[cfg.BuildScript] != ""
	if vendored {
		log.Step("Using the app's own node_modules (vendored); not installing dependencies")
	} else {
		log.Step("Package manager: %s (lockfile %s)", pm.describe(), orNone(pm.Lockfile))
	}
	if runBuild {
		if !vendored {
			lay, err := d.install(ctx, layerBuildModules, false, sdk.LayerTypes{Build: true, Cache: true})
			if err != nil {
				return sdk.BuildResult{}, err
			}
			if err := os.Symlink(filepath.Join(lay.Path, "node_modules"), appModules); err != nil {
				return sdk.BuildResult{}, fmt.Errorf("link %s: %w", appModules, err)
			}
		}
		log.Step("Running %s script %q: %s", pm.Name, cfg.BuildScript, pkg.Scripts[cfg.BuildScript])
		if err := runCommand(ctx, bc.AppDir, env, log.Writer(), pm.runArgs(cfg.BuildScript)...); err != nil {
			return sdk.BuildResult{}, err
		}
		if !vendored {
			if err := os.Remove(appModules); err != nil {
				return sdk.BuildResult{}, fmt.Errorf("unlink %s: %w", appModules, err)
			}
		}
	}
	if !vendored {
		lay, err := d.install(ctx, layerLaunchModules, true, sdk.LayerTypes{Launch: true, Cache: true})
		if err != nil {
			return sdk.BuildResult{}, err
		}
		// The app finds its modules through <app>/node_modules; Node resolves the link's
		// target, so nested requires work from the layer.
		if err := os.Symlink(filepath.Join(lay.Path, "node_modules"), appModules); err != nil {
			return sdk.BuildResult{}, fmt.Errorf("link %s: %w", appModules, err)
		}
	}

	var res sdk.BuildResult
	if p, ok := startProcess(bc.AppDir, pkg); ok {
		log.Step("Process web: %s", strings.Join(p.Command, " "))
		res.Launch.Processes = append(res.Launch.Processes, p)
	} else {
		log.Warnf("no start script, main, server.js or index.js: the image has no web process; add a start script or a Procfile")
	}
	return res, nil
}

// contributeNode resolves the version and installs Node.js (plus npm and, for yarn/pnpm,
// corepack when the source lacks them) into the node layer, or reuses it.
func contributeNode(ctx context.Context, bc sdk.BuildContext, cfg Config, pkg *PackageJSON, src Source, reg registry, pm PackageManager, tmp string) (*sdk.Layer, *semver.Version, error) {
	log := bc.Log
	req, err := FindRequirement(bc.AppDir, pkg, cfg.Version)
	if err != nil {
		return nil, nil, err
	}
	releases, err := src.Releases(ctx)
	if err != nil {
		return nil, nil, err
	}
	v, err := Resolve(req, releases)
	if err != nil {
		return nil, nil, err
	}
	log.Step("Node.js %s (from %s %q, source %s)", v, req.Source, req.Constraint, src.Name())
	lay, err := bc.Layers.Get(layerNode)
	if err != nil {
		return nil, nil, err
	}
	want := map[string]any{"version": v.String(), "source": src.Name(), "arch": bc.Target.Arch}
	if lay.MetadataMatches(want) && exists(filepath.Join(lay.Path, "bin", "node")) {
		log.Step("Reusing Node.js %s layer", v)
	} else {
		log.Step("Installing Node.js %s", v)
		if err := lay.Reset(); err != nil {
			return nil, nil, err
		}
		digest, err := src.Install(ctx, v, lay.Path, tmp)
		if err != nil {
			return nil, nil, err
		}
		log.Detail("verified %s", digest)
		if err := lay.WriteCycloneDX([]sdk.Component{{Name: "node", Version: v.String(), PURL: "pkg:generic/node@" + v.String()}}); err != nil {
			return nil, nil, err
		}
		if err := lay.LaunchEnv().Default("NODE_ENV", "production"); err != nil {
			return nil, nil, err
		}
		// PORT convention: the app listens on $PORT; 8080 unless the platform sets it.
		if err := lay.LaunchEnv().Default("PORT", "8080"); err != nil {
			return nil, nil, err
		}
		if err := lay.SharedEnv().Override("NODE_HOME", lay.Path); err != nil {
			return nil, nil, err
		}
	}
	lay.Metadata = want
	if !exists(filepath.Join(lay.Path, "bin", "npm")) {
		nv, err := installTool(ctx, reg, "npm", cfg.NPMVersion, v, lay.Path, tmp,
			map[string]string{"npm": "bin/npm-cli.js", "npx": "bin/npx-cli.js"})
		if err != nil {
			return nil, nil, err
		}
		log.Detail("installed npm %s from %s (integrity verified)", nv, reg.base)
	}
	if pm.usesCorepack() && !exists(filepath.Join(lay.Path, "bin", "corepack")) {
		cv, err := installTool(ctx, reg, "corepack", "*", v, lay.Path, tmp,
			map[string]string{"corepack": "dist/corepack.js"})
		if err != nil {
			return nil, nil, err
		}
		log.Detail("installed corepack %s from %s (integrity verified)", cv, reg.base)
	}
	lay.Types = sdk.LayerTypes{Launch: true, Build: true, Cache: true}
	if err := lay.Write(); err != nil {
		return nil, nil, err
	}
	return lay, v, nil
}

// depsInstaller installs node_modules into a layer, keyed by the lockfile, package.json
// dependency fields, Node.js version and package manager.
type depsInstaller struct {
	bc       sdk.BuildContext
	pm       PackageManager
	pkg      *PackageJSON
	env      []string
	node     string
	cacheDir string
	registry string
	out      io.Writer
}

func (d depsInstaller) install(ctx context.Context, name string, prod bool, types sdk.LayerTypes) (*sdk.Layer, error) {
	log := d.bc.Log
	lay, err := d.bc.Layers.Get(name)
	if err != nil {
		return nil, err
	}
	var lock []byte
	if d.pm.Lockfile != "" {
		if lock, err = os.ReadFile(filepath.Join(d.bc.AppDir, d.pm.Lockfile)); err != nil {
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
		if err := copyProjectFiles(d.bc.AppDir, lay.Path); err != nil {
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
		if types.Launch {
			if err := lay.LaunchEnv().Prepend("PATH", filepath.Join(lay.Path, "node_modules", ".bin"), string(os.PathListSeparator)); err != nil {
				return nil, err
			}
		}
	}
	lay.Metadata = want
	lay.Types = types
	if err := lay.Write(); err != nil {
		return nil, err
	}
	return lay, nil
}

// copyProjectFiles copies package.json, the lockfile and package-manager configuration (and
// yarn's .yarn/releases, plugins and patches) from the app into dir.
func copyProjectFiles(appDir, dir string) error {
	for _, f := range projectFiles {
		if err := copyFile(filepath.Join(appDir, f), filepath.Join(dir, f)); err != nil {
			return err
		}
	}
	for _, sub := range []string{"releases", "plugins", "patches"} {
		src := filepath.Join(appDir, ".yarn", sub)
		ents, err := os.ReadDir(src)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if e.Type().IsRegular() {
				if err := copyFile(filepath.Join(src, e.Name()), filepath.Join(dir, ".yarn", sub, e.Name())); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return nil
}

// pointYarnLockAt rewrites the public-registry URLs that yarn classic records in yarn.lock
// to the configured registry, in the layer's copy only: yarn 1 fetches "resolved" URLs as
// written, which an air-gapped build cannot reach.
func pointYarnLockAt(path, reg string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	for _, public := range []string{"https://registry.yarnpkg.com/", DefaultNPMRegistry + "/"} {
		b = bytes.ReplaceAll(b, []byte(public), []byte(reg+"/"))
	}
	return sdk.WriteFileAtomic(path, b, 0o644)
}

// describe names the manager for logs and layer metadata.
func (pm PackageManager) describe() string {
	if pm.Name == "yarn" && pm.Berry {
		return "yarn (berry)"
	}
	if pm.Name == "yarn" {
		return "yarn (classic)"
	}
	return pm.Name
}

// runArgs runs a package.json script.
func (pm PackageManager) runArgs(script string) []string {
	if pm.usesCorepack() {
		return []string{"corepack", pm.Name, "run", script}
	}
	return []string{"npm", "run", script}
}

var simpleNodeStart = regexp.MustCompile(`^node\s+([\w./@-]+)$`)

// startProcess is the web process: the start script (exec'd as node <file> when it is that
// simple, else through npm start), else main, server.js or index.js.
func startProcess(appDir string, pkg *PackageJSON) (sdk.Process, bool) {
	web := func(cmd ...string) (sdk.Process, bool) {
		return sdk.Process{Type: "web", Command: cmd, Default: true}, true
	}
	if s := strings.TrimSpace(pkg.Scripts["start"]); s != "" {
		if m := simpleNodeStart.FindStringSubmatch(s); m != nil {
			return web("node", m[1])
		}
		return web("npm", "start")
	}
	if pkg.Main != "" && exists(filepath.Join(appDir, pkg.Main)) {
		return web("node", pkg.Main)
	}
	for _, f := range []string{"server.js", "index.js"} {
		if exists(filepath.Join(appDir, f)) {
			return web("node", f)
		}
	}
	return sdk.Process{}, false
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
