package php

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
	"github.com/slipway/slipway/debian"
)

// Build installs PHP with the app's extensions, its Composer dependencies and a web
// server, and declares the web process.
func Build(ctx context.Context, bc sdk.BuildContext) (sdk.BuildResult, error) {
	return (&builder{}).build(ctx, bc)
}

// builder holds the test seams.
type builder struct {
	// aptRoot is the build image's root for sdk.Apt ("" is "/"): tests on the host give
	// one with a stack record.
	aptRoot string
}

func (b *builder) build(ctx context.Context, bc sdk.BuildContext) (sdk.BuildResult, error) {
	log := bc.Log
	log.Title("Slipway PHP buildpack")
	var res sdk.BuildResult
	cfg, err := readConfig(bc.Env, bc.PlatformDir, bc.AppDir, bc.ExecEnv)
	if err != nil {
		return res, err
	}
	m, err := ReadManifest(bc.AppDir)
	if err != nil {
		return res, err
	}
	req, err := versionRequirement(cfg.Version, m)
	if err != nil {
		return res, err
	}
	procfile := exists(filepath.Join(bc.AppDir, "Procfile"))
	server := cfg.Server
	if procfile && !cfg.ServerSet {
		server = "" // the Procfile's processes run the app; no server unless asked for
	}
	fpm := server == ServerNginx || server == ServerHTTPD

	debs, err := cacheLayer(bc, layerDebs)
	if err != nil {
		return res, err
	}
	apt := &sdk.Apt{Root: b.aptRoot, Cache: debs, Log: log}
	if line := strings.TrimSpace(bc.Env.Config(bc.PlatformDir, "BP_PHP_APT_SOURCE", "")); line != "" {
		extra, err := debian.ParseSourceLine(line, bc.AppDir, "")
		if err != nil {
			return res, fmt.Errorf("BP_PHP_APT_SOURCE: %w", err)
		}
		stack, err := apt.StackSources()
		if err != nil {
			return res, err
		}
		apt.Sources = append(stack, extra)
		log.Step("Extra apt repository %s (BP_PHP_APT_SOURCE)", extra)
	}

	phpLay, err := bc.Layers.Get(layerPHP)
	if err != nil {
		return res, err
	}
	rt := &runtime{apt: apt, lay: phpLay, log: log}
	offered, err := rt.Versions(ctx)
	if err != nil {
		return res, err
	}
	version, ok := req.Newest(offered)
	if !ok {
		return res, &VersionError{Constraint: req, Offered: offered}
	}
	log.Step("PHP %s (from %s %q)", version, req.Source, req.Text)
	exts := m.Extensions()
	ini := iniSettings{AppDir: bc.AppDir, Development: cfg.Development}
	php, reused, err := rt.Install(ctx, version, exts, fpm, ini)
	if err != nil {
		return res, err
	}
	if reused {
		log.Step("Reusing PHP %s layer", version)
	} else {
		log.Step("Installed PHP %s into layer %s", version, layerPHP)
		// PORT convention: the app listens on $PORT; 8080 unless the platform sets it.
		if err := phpLay.LaunchEnv().Default("PORT", "8080"); err != nil {
			return res, err
		}
	}
	phpLay.Metadata["version"] = version.String()
	rt.offered.Remember(phpLay)
	phpLay.Types = sdk.LayerTypes{Launch: true, Build: true, Cache: true}
	if err := phpLay.Write(); err != nil {
		return res, err
	}
	env := rt.env(bc.Env, ini)
	loaded, err := modules(ctx, php, env)
	if err != nil {
		return res, err
	}
	if miss := missing(exts, loaded); len(miss) > 0 {
		e := miss[0]
		return res, fmt.Errorf("%s requires ext-%s, but PHP %s does not load a module %q after installing %s; remove the requirement or add a repository that has it with BP_PHP_APT_SOURCE",
			e.From, e.Name, version, moduleName(e.Name), extPackage(version.Minor(), e.Name))
	}
	if len(exts) > 0 {
		var names []string
		for _, e := range exts {
			names = append(names, e.Name)
		}
		log.Step("Extensions required and loaded: %s", strings.Join(names, ", "))
	}

	if m.HasJSON {
		if err := b.composer(ctx, bc, apt, phpLay, m, cfg, php, env, version); err != nil {
			return res, err
		}
	} else {
		log.Step("No composer.json: no dependencies to install")
	}

	if procfile {
		log.Step("Procfile present: its processes are used")
	}
	web := filepath.Join(bc.AppDir, cfg.WebDir)
	switch {
	case fpm:
		lay, err := installServer(ctx, apt, bc.Layers, server, log)
		if err != nil {
			return res, err
		}
		start, err := writeServerConfig(bc.Layers, serverSetup{mode: server, fpm: filepath.Join(phpLay.Path, "usr", "sbin", "php-fpm"),
			server: lay.Path, web: web, app: bc.AppDir})
		if err != nil {
			return res, err
		}
		if !procfile {
			log.Step("Process web: %s with php-fpm, document root %s (BP_PHP_SERVER=%s)", server, cfg.WebDir, server)
			res.Launch.Processes = append(res.Launch.Processes, sdk.Process{Type: "web", Default: true, Command: []string{start}})
		}
	case !procfile:
		log.Step("Process web: PHP's built-in server, document root %s (BP_PHP_SERVER=%s)", cfg.WebDir, ServerBuiltin)
		res.Launch.Processes = append(res.Launch.Processes, builtinProcess(cfg.WebDir))
	}
	return res, nil
}

func (b *builder) composer(ctx context.Context, bc sdk.BuildContext, apt *sdk.Apt, phpLay *sdk.Layer, m *Manifest, cfg config, php string, env []string, v Version) error {
	composer, err := installComposer(ctx, apt, bc, phpLay)
	if err != nil {
		return err
	}
	cache, err := cacheLayer(bc, layerCache)
	if err != nil {
		return err
	}
	home, err := os.MkdirTemp("", "slipway-composer-home-")
	if err != nil {
		return fmt.Errorf("create COMPOSER_HOME: %w", err)
	}
	defer os.RemoveAll(home)
	repos, err := composerHome(bc, home, cfg.Repository, m)
	if err != nil {
		return err
	}
	c := &composerRun{bc: bc, php: php, composer: composer, repos: repos, env: append(env,
		"COMPOSER_HOME="+home,
		"COMPOSER_CACHE_DIR="+cache.Path,
		"COMPOSER_NO_INTERACTION=1",
		"COMPOSER_NO_AUDIT=1",
	)}
	return installVendor(ctx, c, m, v, cfg.InstallOptions)
}

func cacheLayer(bc sdk.BuildContext, name string) (*sdk.Layer, error) {
	l, err := bc.Layers.Get(name)
	if err != nil {
		return nil, err
	}
	l.Types = sdk.LayerTypes{Cache: true}
	if err := l.Write(); err != nil {
		return nil, err
	}
	return l, nil
}
