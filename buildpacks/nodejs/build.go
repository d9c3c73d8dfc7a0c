package nodejs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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

// Build installs Node.js, the dependencies and declares the web process (buildpack.md,
// Build). Layers whose inputs did not change are reused untouched, so the exporter can
// reuse their digests without re-tarring.
func Build(ctx context.Context, bc sdk.BuildContext) (sdk.BuildResult, error) {
	log := bc.Log
	log.Title("Slipway Node.js buildpack")
	cfg, err := ReadConfig(bc.Env, bc.PlatformDir)
	if err != nil {
		return sdk.BuildResult{}, err
	}
	dir, err := cfg.Dir(bc.AppDir)
	if err != nil {
		return sdk.BuildResult{}, err
	}
	if cfg.ProjectPath != "" {
		log.Step("Project directory: %s (BP_NODE_PROJECT_PATH)", cfg.ProjectPath)
	}
	hasPkg := exists(filepath.Join(dir, "package.json"))
	pkg := &PackageJSON{}
	if hasPkg {
		if pkg, err = ReadPackageJSON(dir); err != nil {
			return sdk.BuildResult{}, err
		}
	}
	arch, err := nodeArch(bc.Target.Arch)
	if err != nil {
		return sdk.BuildResult{}, err
	}
	pm, err := DetectPackageManager(dir)
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
	nodeLayer, version, err := contributeNode(ctx, bc, cfg, dir, pkg, sources(cfg, arch, fetcher, reg), reg, tmp)
	if err != nil {
		return sdk.BuildResult{}, err
	}
	// Built for static serving by slipway/web-server: Node.js and node_modules serve the
	// build only.
	static := bc.Plan.Has(PlanStaticBuild)
	if static {
		log.Step("Building for slipway/web-server (%s): Node.js and node_modules stay out of the image, no web process", PlanStaticBuild)
		nodeLayer.Types.Launch = false
		if err := nodeLayer.Write(); err != nil {
			return sdk.BuildResult{}, err
		}
	}
	nodeEnv := "production"
	if cfg.DevAtLaunch() {
		nodeEnv = cfg.NodeEnv
		log.Step("NODE_ENV=%s at build: dev dependencies stay in the image and NODE_ENV=%s is its launch default", nodeEnv, nodeEnv)
	}
	if err := writeEnvIfChanged(nodeLayer.LaunchEnv(), "NODE_ENV.default", nodeEnv); err != nil {
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
	path := filepath.Join(nodeLayer.Path, "bin") + string(os.PathListSeparator) + bc.Env.Get("PATH")
	if hasPkg && pm.Name != "npm" && !pm.Berry {
		bin, err := providePackageManager(ctx, bc, reg, &pm, pkg, dir, version, nodeLayer.Path, tmp)
		if err != nil {
			return sdk.BuildResult{}, err
		}
		if bin != "" {
			path = bin + string(os.PathListSeparator) + path
		}
	}
	if pm.Corepack {
		if err := ensureCorepack(ctx, bc, reg, version, nodeLayer, tmp); err != nil {
			return sdk.BuildResult{}, err
		}
	}
	env := bc.Env.List(
		"PATH="+path,
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
	if pm.Corepack && pm.Name == "pnpm" {
		bin, err := corepackOrRegistry(ctx, bc, reg, &pm, pkg, dir, version, env, tmp)
		if err != nil {
			return sdk.BuildResult{}, err
		}
		if bin != "" {
			path = bin + string(os.PathListSeparator) + path
			for i, kv := range env {
				if strings.HasPrefix(kv, "PATH=") {
					env[i] = "PATH=" + path
				}
			}
		}
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
	if hasPkg {
		d := depsInstaller{bc: bc, dir: dir, pm: pm, pkg: pkg, env: env, node: version.String(),
			cacheDir: filepath.Join(cacheLayer.Path, pm.Name), registry: cfg.Registry, out: log.Writer(), static: static}
		if err := d.run(ctx, cfg); err != nil {
			return sdk.BuildResult{}, err
		}
	}

	var res sdk.BuildResult
	p, ok, err := startProcess(dir, pkg, cfg.Launchpoint)
	if err != nil {
		return sdk.BuildResult{}, err
	}
	switch {
	case static:
	case ok:
		if dir != bc.AppDir {
			p.WorkingDirectory = dir
		}
		log.Step("Process web: %s", strings.Join(p.Command, " "))
		res.Launch.Processes = append(res.Launch.Processes, p)
	default:
		log.Warnf("no start script, main, server.js, app.js, main.js or index.js: the image has no web process; add a start script, set BP_LAUNCHPOINT or add a Procfile")
	}
	if err := contributeLaunchEnv(bc); err != nil {
		return sdk.BuildResult{}, err
	}
	labels, err := imageLabels(bc.Env.Config(bc.PlatformDir, "BP_IMAGE_LABELS", ""))
	if err != nil {
		return sdk.BuildResult{}, err
	}
	res.Launch.Labels = append(res.Launch.Labels, labels...)
	return res, nil
}

// contributeNode resolves the version along the source chain and installs Node.js (plus npm
// when the source lacks it) into the node layer, or reuses it.
func contributeNode(ctx context.Context, bc sdk.BuildContext, cfg Config, dir string, pkg *PackageJSON, chain []Source, reg registry, tmp string) (*sdk.Layer, *semver.Version, error) {
	log := bc.Log
	req, err := FindRequirement(dir, pkg, cfg.Version)
	if err != nil {
		return nil, nil, err
	}
	lay, err := bc.Layers.Get(layerNode)
	if err != nil {
		return nil, nil, err
	}
	var skipped []skipNote
	var chosen chosenNode
	installed := false
	for len(chain) > 0 {
		if chosen, err = resolveFrom(ctx, chain, req, &skipped); err != nil {
			return nil, nil, err
		}
		for _, s := range skipped {
			log.Step("Node.js source %s skipped: %v", s.src, s.reason)
		}
		skipped = nil
		v := chosen.version
		kind := "LTS"
		if !IsLTS(v, chosen.releases) {
			kind = "Current, not LTS: no LTS release satisfies the range"
		}
		log.Step("Node.js %s (%s; from %s %q, source %s)", v, kind, req.Source, req.Constraint, chosen.src.Name())
		// The same release from another source is the same runtime: reuse it.
		if fmt.Sprint(lay.Metadata["version"]) == v.String() && fmt.Sprint(lay.Metadata["arch"]) == bc.Target.Arch &&
			lay.Exists() && exists(filepath.Join(lay.Path, "bin", "node")) {
			log.Step("Reusing Node.js %s layer", v)
			break
		}
		log.Step("Installing Node.js %s", v)
		if err := lay.Reset(); err != nil {
			return nil, nil, err
		}
		digest, err := chosen.src.Install(ctx, v, lay.Path, tmp)
		if err != nil {
			var ce *sdk.ChecksumError
			rest := sourcesAfter(chain, chosen.src)
			if errors.As(err, &ce) || len(rest) == 0 {
				// A download that fails verification is never answered by trying elsewhere.
				return nil, nil, err
			}
			log.Step("Node.js source %s skipped: %v", chosen.src.Name(), err)
			chain = rest
			continue
		}
		log.Detail("verified %s", digest)
		if err := lay.WriteCycloneDX([]sdk.Component{{Name: "node", Version: v.String(), PURL: "pkg:generic/node@" + v.String()}}); err != nil {
			return nil, nil, err
		}
		// PORT convention: the app listens on $PORT; 8080 unless the platform sets it.
		if err := lay.LaunchEnv().Default("PORT", "8080"); err != nil {
			return nil, nil, err
		}
		if err := lay.SharedEnv().Override("NODE_HOME", lay.Path); err != nil {
			return nil, nil, err
		}
		installed = true
		break
	}
	v := chosen.version
	if installed || lay.Metadata["source"] == nil {
		lay.Metadata = map[string]any{"version": v.String(), "source": chosen.src.Name(), "arch": bc.Target.Arch}
	}
	if !exists(filepath.Join(lay.Path, "bin", "npm")) {
		nv, err := installTool(ctx, reg, "npm", cfg.NPMVersion, v, lay.Path, tmp,
			map[string]string{"npm": "bin/npm-cli.js", "npx": "bin/npx-cli.js"})
		if err != nil {
			return nil, nil, err
		}
		log.Detail("installed npm %s from %s (integrity verified)", nv, reg.base)
	}
	lay.Types = sdk.LayerTypes{Launch: true, Build: true, Cache: true}
	if err := lay.Write(); err != nil {
		return nil, nil, err
	}
	return lay, v, nil
}

// providePackageManager makes yarn classic or pnpm available: from the npm registry into
// the package-manager layer (returning its bin dir), or through corepack (pm.Corepack).
func providePackageManager(ctx context.Context, bc sdk.BuildContext, reg registry, pm *PackageManager, pkg *PackageJSON, dir string, node *semver.Version, nodeDir, tmp string) (string, error) {
	var lock []byte
	if pm.Lockfile != "" {
		lock, _ = os.ReadFile(filepath.Join(dir, pm.Lockfile))
	}
	noCorepack := ""
	if !exists(filepath.Join(nodeDir, "bin", "corepack")) && pm.Name == "pnpm" && packageManagerField.MatchString(strings.TrimSpace(pkg.PackageManager)) {
		p, err := reg.packument(ctx, "corepack")
		if err != nil {
			return "", err
		}
		if _, ok := p.newestMatching(nil, node); !ok {
			noCorepack = "no corepack release supports Node.js " + node.String()
		}
	}
	choice, err := chooseTool(*pm, pkg, lock, noCorepack)
	if err != nil {
		return "", err
	}
	if choice.Corepack {
		pm.Corepack = true
		bc.Log.Step("%s: %s", pm.Name, choice.Why)
		return "", nil
	}
	bin, _, err := installPMTool(ctx, bc, reg, pm.Name, choice, node, tmp)
	return bin, err
}

// ensureCorepack installs corepack into the node layer when the source lacks it.
func ensureCorepack(ctx context.Context, bc sdk.BuildContext, reg registry, node *semver.Version, lay *sdk.Layer, tmp string) error {
	if exists(filepath.Join(lay.Path, "bin", "corepack")) {
		return nil
	}
	cv, err := installTool(ctx, reg, "corepack", "*", node, lay.Path, tmp,
		map[string]string{"corepack": "dist/corepack.js"})
	if err != nil {
		return err
	}
	bc.Log.Detail("installed corepack %s from %s (integrity verified)", cv, reg.base)
	return nil
}

// writeEnvIfChanged writes an env file only when its content differs, so an unchanged
// layer keeps its fingerprint and the exporter reuses it.
func writeEnvIfChanged(d sdk.EnvDir, file, value string) error {
	if b, err := os.ReadFile(filepath.Join(d.Path, file)); err == nil && string(b) == value {
		return nil
	}
	return sdk.WriteFileAtomic(filepath.Join(d.Path, file), []byte(value), 0o644)
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
	if pm.Name == "npm" {
		return []string{"npm", "run", script}
	}
	return pm.command("run", script)
}

var simpleNodeStart = regexp.MustCompile(`^node\s+([\w./@-]+)$`)

// startProcess is the web process: BP_LAUNCHPOINT, else the start script (exec'd as
// node <file> when it is that simple, else through npm start), else main, server.js,
// app.js, main.js or index.js.
func startProcess(dir string, pkg *PackageJSON, launchpoint string) (sdk.Process, bool, error) {
	web := func(cmd ...string) (sdk.Process, bool, error) {
		return sdk.Process{Type: "web", Command: cmd, Default: true}, true, nil
	}
	if launchpoint != "" {
		if !exists(filepath.Join(dir, launchpoint)) {
			return sdk.Process{}, false, fmt.Errorf("BP_LAUNCHPOINT=%s: no such file in the project directory", launchpoint)
		}
		return web("node", launchpoint)
	}
	if s := strings.TrimSpace(pkg.Scripts["start"]); s != "" {
		if m := simpleNodeStart.FindStringSubmatch(s); m != nil {
			return web("node", m[1])
		}
		return web("npm", "start")
	}
	if pkg.Main != "" && exists(filepath.Join(dir, pkg.Main)) {
		return web("node", pkg.Main)
	}
	if f := firstExisting(dir, entryPoints); f != "" {
		return web("node", f)
	}
	return sdk.Process{}, false, nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
