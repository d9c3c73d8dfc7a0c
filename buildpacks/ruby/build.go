package ruby

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
	"github.com/slipway/slipway/debian"
)

// Layer names.
const (
	layerRuby = "ruby"      // Ruby, RubyGems, Bundler, headers: launch, build, cache
	layerGems = "gems"      // BUNDLE_PATH: launch, cache
	layerDebs = "apt-cache" // .debs and indexes: cache
)

// Build installs Ruby and the app's gems and declares the web process.
func Build(ctx context.Context, bc sdk.BuildContext) (sdk.BuildResult, error) {
	return (&builder{}).build(ctx, bc)
}

// builder holds the test seams.
type builder struct {
	// aptRoot is the build image's root for sdk.Apt ("" is "/").
	aptRoot string
}

func (b *builder) build(ctx context.Context, bc sdk.BuildContext) (sdk.BuildResult, error) {
	log := bc.Log
	log.Title("Slipway Ruby buildpack")
	var res sdk.BuildResult
	cfg := readConfig(bc.Env, bc.PlatformDir)
	lock, err := ReadLockfile(bc.AppDir)
	if err != nil {
		return res, err
	}
	req, err := versionRequirement(bc.AppDir, cfg.Version)
	if err != nil {
		return res, err
	}

	debs, err := bc.Layers.Get(layerDebs)
	if err != nil {
		return res, err
	}
	debs.Types = sdk.LayerTypes{Cache: true}
	if err := debs.Write(); err != nil {
		return res, err
	}
	apt := &sdk.Apt{Root: b.aptRoot, Cache: debs, Log: log}
	if cfg.AptSource != "" {
		extra, err := debian.ParseSourceLine(cfg.AptSource, bc.AppDir, "")
		if err != nil {
			return res, fmt.Errorf("BP_RUBY_APT_SOURCE: %w", err)
		}
		stack, err := apt.StackSources()
		if err != nil {
			return res, err
		}
		apt.Sources = append(stack, extra)
		log.Step("Extra apt repository %s (BP_RUBY_APT_SOURCE)", extra)
	}
	rubyLay, err := bc.Layers.Get(layerRuby)
	if err != nil {
		return res, err
	}
	rt := &runtime{apt: apt, lay: rubyLay}
	offered, err := rt.Versions(ctx)
	if err != nil {
		return res, err
	}
	version, ok := req.Newest(offered)
	if !ok {
		return res, &VersionError{Req: req, Offered: offered}
	}
	if req.Any() {
		log.Step("Ruby %s (the newest the apt repositories offer; the app names none in Gemfile's ruby directive or .ruby-version)", version)
	} else {
		log.Step("Ruby %s (from %s %q)", version, req.Source, req.Text)
	}
	ruby, reused, err := rt.Install(ctx, version)
	if err != nil {
		return res, err
	}
	env := rt.env(bc.Env, version.Minor())
	if reused {
		log.Step("Reusing Ruby %s layer", version)
	} else {
		log.Step("Installed Ruby %s into layer %s", version, layerRuby)
		if err := checkRuby(ctx, ruby, env); err != nil {
			return res, err
		}
	}
	rubyLay.Metadata["version"] = version.String()
	rt.offered.Remember(rubyLay)
	rubyLay.Types = sdk.LayerTypes{Launch: true, Build: true, Cache: true}
	if err := rubyLay.Write(); err != nil {
		return res, err
	}

	home, err := os.MkdirTemp("", "slipway-bundler-home-")
	if err != nil {
		return res, fmt.Errorf("create a Bundler home: %w", err)
	}
	defer os.RemoveAll(home)
	settings, mirrors, values, err := bundlerSettings(bc, home)
	if err != nil {
		return res, err
	}

	debianBundler := bundlerVersion(rubyLay.Path)
	switch {
	case lock == nil || lock.BundledWith == "":
		log.Step("Bundler %s (Debian's; Gemfile.lock has no BUNDLED WITH)", debianBundler)
	case lock.BundledWith == debianBundler:
		log.Step("Bundler %s (Gemfile.lock BUNDLED WITH)", debianBundler)
	default:
		// The Bundler the lockfile names, from the gem source Bundler would use, as
		// Bundler's own version switch would (but failing clearly where it only warns).
		log.Step("Bundler %s (Gemfile.lock BUNDLED WITH; Debian's is %s)", lock.BundledWith, debianBundler)
		add, err := lockedBundler(ctx, bc, filepath.Join(rubyLay.Path, "usr", "bin", "gem"), env, lock.BundledWith, lockedSource(lock, values))
		if err != nil {
			return res, err
		}
		env = sdk.NewEnviron(env).List(add...)
	}
	brun := &bundlerRun{bc: bc, bundle: filepath.Join(rubyLay.Path, "usr", "bin", "bundle"), sources: describeSources(lock, mirrors),
		env: append(append(env, "BUNDLE_USER_HOME="+home, "BUNDLE_SILENCE_ROOT_WARNING=1", "BUNDLE_IGNORE_MESSAGES=true",
			"MAKEFLAGS=-j2"), settings...)}
	if lock != nil && lock.BundledWith != "" && lock.BundledWith != debianBundler {
		if err := checkBundler(ctx, brun, lock.BundledWith); err != nil {
			return res, err
		}
	}
	gems, err := bc.Layers.Get(layerGems)
	if err != nil {
		return res, err
	}
	if err := installGems(ctx, brun, gems, lock, version, cfg.Without); err != nil {
		return res, err
	}
	launch := gems.LaunchEnv()
	for k, v := range map[string]string{"RACK_ENV": "production", "RAILS_ENV": "production", "RAILS_LOG_TO_STDOUT": "enabled",
		"RAILS_SERVE_STATIC_FILES": "enabled", "PORT": "8080"} {
		if err := launch.Default(k, v); err != nil {
			return res, err
		}
	}

	if railsAssets(bc.AppDir, lock, cfg.RailsAssets) {
		log.Step("Precompiling Rails assets (bin/rails assets:precompile)")
		// In the environment the app runs in (the launch defaults above), as Heroku and
		// Paketo precompile, unless the build sets it.
		pre := *brun
		pre.env = append([]string(nil), brun.env...)
		for _, k := range []string{"RAILS_ENV", "RACK_ENV"} {
			if bc.Env.Config(bc.PlatformDir, k, "") == "" {
				pre.env = append(pre.env, k+"=production")
			}
		}
		if err := pre.run(ctx, "exec", "bin/rails", "assets:precompile"); err != nil {
			return res, fmt.Errorf("rails assets:precompile failed (see its output above; BP_RAILS_ASSETS=false skips it): %w", err)
		}
	}

	if isRails(bc.AppDir, lock) {
		if err := makeRailsWritable(bc.AppDir); err != nil {
			return res, err
		}
	}

	if exists(filepath.Join(bc.AppDir, "Procfile")) {
		log.Step("Procfile present: its processes are used")
		return res, nil
	}
	proc, why := webProcess(bc.AppDir, lock)
	if proc == nil {
		log.Warnf("no web process: %s; add a Procfile (web: bundle exec …)", why)
		return res, nil
	}
	log.Step("Process web: %s (%s)", strings.Join(proc.Command[2:], " "), why)
	res.Launch.Processes = append(res.Launch.Processes, *proc)
	return res, nil
}

// checkRuby runs the layer's Ruby once, so a relocation that does not work fails the
// build and not the app: the standard library, a C extension of it (json) and RubyGems.
func checkRuby(ctx context.Context, ruby string, env []string) error {
	cmd := exec.CommandContext(ctx, ruby, "-e", `require "json"; print JSON.generate([RUBY_VERSION, Gem::VERSION])`)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("the relocated Ruby does not run (%s -e 'require \"json\"'): %w\n%s", ruby, err, out.String())
	}
	return nil
}

// bundlerVersion is the version of Debian's Bundler in the ruby layer.
func bundlerVersion(layer string) string {
	m, _ := filepath.Glob(filepath.Join(layer, "usr/share/rubygems-integration/all/specifications/bundler-*.gemspec"))
	if len(m) == 0 {
		return "unknown"
	}
	return strings.TrimSuffix(strings.TrimPrefix(filepath.Base(m[0]), "bundler-"), ".gemspec")
}
