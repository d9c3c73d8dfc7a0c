package ruby

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// DefaultWithout are the Gemfile groups left out unless BUNDLE_WITHOUT says otherwise.
const DefaultWithout = "development:test"

// bundlerRun is what running Bundler needs.
type bundlerRun struct {
	bc     sdk.BuildContext
	bundle string   // the ruby layer's bundle script
	env    []string // Ruby's environment plus Bundler's settings
	// sources describes the gem sources and the mirrors in use, for messages.
	sources string
}

func (b *bundlerRun) run(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, b.bundle, args...)
	cmd.Dir = b.bc.AppDir
	cmd.Env = b.env
	cmd.Stdout, cmd.Stderr = b.bc.Log.Writer(), b.bc.Log.Writer()
	return cmd.Run()
}

// bundlerSettings makes Bundler's configuration for this build only, so mirrors and
// credentials never reach a layer or the app: a binding of type bundler gives a `config`
// file (Bundler's YAML config, BUNDLE_USER_CONFIG) and/or one file per setting named as
// its environment variable (BUNDLE_MIRROR__ALL, BUNDLE_GEMS__EXAMPLE__COM); BUNDLE_*
// variables of the build's environment (e.g. --env BUNDLE_MIRROR__ALL=…) work as with
// any Bundler. It returns the environment additions, a description of the mirrors, and
// every BUNDLE_* setting by name (the build's environment over the bindings), with which
// the buildpack fetches a locked Bundler from the same source Bundler would use.
func bundlerSettings(bc sdk.BuildContext, home string) ([]string, []string, map[string]string, error) {
	var env, mirrors []string
	values := map[string]string{}
	for _, b := range bc.Env.Bindings(bc.PlatformDir, "bundler") {
		ents, err := os.ReadDir(b.Path)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("read binding %s: %w", b.Name, err)
		}
		for _, e := range ents {
			name := e.Name()
			switch {
			case name == "config":
				data, err := os.ReadFile(filepath.Join(b.Path, name))
				if err != nil {
					return nil, nil, nil, err
				}
				cfg := filepath.Join(home, "config")
				if err := os.WriteFile(cfg, data, 0o600); err != nil {
					return nil, nil, nil, err
				}
				env = append(env, "BUNDLE_USER_CONFIG="+cfg)
				for _, m := range configSetting.FindAllStringSubmatch(string(data), -1) {
					values[m[1]] = m[2]
					if strings.HasPrefix(m[1], "BUNDLE_MIRROR__") {
						mirrors = append(mirrors, describeMirror(m[1], m[2]))
					}
				}
				bc.Log.Step("Using Bundler's config from binding %s", b.Name)
			case strings.HasPrefix(name, "BUNDLE_"):
				v := b.Entry(name)
				env = append(env, name+"="+v)
				values[name] = v
				if strings.HasPrefix(name, "BUNDLE_MIRROR__") {
					mirrors = append(mirrors, describeMirror(name, v))
				}
				bc.Log.Step("Using %s from binding %s", name, b.Name)
			}
		}
	}
	var names []string
	for k, v := range bc.Env {
		if strings.HasPrefix(k, "BUNDLE_") {
			values[k] = v
		}
		if strings.HasPrefix(k, "BUNDLE_MIRROR__") {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		mirrors = append(mirrors, describeMirror(k, bc.Env[k]))
	}
	return env, mirrors, values, nil
}

// configSetting is a "KEY: value" line of Bundler's YAML config; keys of mirrors and
// credentials may hold a URL ("BUNDLE_MIRROR__HTTPS://RUBYGEMS__ORG/").
var configSetting = regexp.MustCompile(`(?m)^\s*["']?(BUNDLE_[^"':]+(?::[^"':]*)*?/?)["']?\s*:\s*["']?([^"'\s]+)["']?\s*$`)

// describeMirror is "https://rubygems.org/ → http://mirror" from a setting's name.
func describeMirror(key, value string) string {
	from := strings.TrimPrefix(key, "BUNDLE_MIRROR__")
	from = strings.ToLower(strings.ReplaceAll(from, "__", "."))
	if from == "all" {
		from = "every source"
	}
	return from + " → " + value
}

// describeSources lists the lockfile's gem sources and the mirrors that serve them.
func describeSources(lock *Lockfile, mirrors []string) string {
	var remotes []string
	if lock != nil {
		remotes = lock.Remotes
	}
	if len(remotes) == 0 {
		remotes = []string{"the Gemfile's sources"}
	}
	s := strings.Join(remotes, ", ")
	if len(mirrors) > 0 {
		s += " (mirrors: " + strings.Join(mirrors, ", ") + ")"
	}
	return s
}

// installGems makes (or reuses) the gems layer: `bundle install` in deployment mode
// into the layer (BUNDLE_PATH), reused untouched while Gemfile.lock, the Ruby version and
// the groups left out are unchanged; when only the lockfile changed, Bundler installs
// what is new into the existing layer and `bundle clean` drops what is no longer locked.
func installGems(ctx context.Context, b *bundlerRun, lay *sdk.Layer, lock *Lockfile, rubyVersion Version, without string) error {
	bc, log := b.bc, b.bc.Log
	lockName := "Gemfile.lock"
	if lock != nil {
		lockName = lock.Name
	}
	want := map[string]any{"lockfile": fileKey(bc.AppDir, lockName), "ruby": rubyVersion.String(), "without": without, "arch": bc.Target.Arch}
	settings := []string{"BUNDLE_PATH=" + lay.Path, "BUNDLE_WITHOUT=" + without}
	if lock != nil {
		settings = append(settings, "BUNDLE_DEPLOYMENT=true")
	}
	b.env = append(b.env, settings...)
	switch {
	case lock != nil && lay.MetadataMatches(want):
		log.Step("Reusing the gems layer (%s unchanged)", lockName)
	default:
		if lock == nil {
			log.Warnf("no Gemfile.lock: gem versions are resolved now, at build; commit Gemfile.lock for repeatable builds (BUNDLE_DEPLOYMENT needs it)")
		}
		same := lay.Exists() && fmt.Sprint(lay.Metadata["ruby"]) == rubyVersion.String() && fmt.Sprint(lay.Metadata["arch"]) == bc.Target.Arch
		if !same {
			if err := lay.Reset(); err != nil {
				return err
			}
		}
		log.Step("Installing gems with Bundler into layer %s (BUNDLE_WITHOUT=%s; gem sources: %s)", lay.Name, without, b.sources)
		if err := b.run(ctx, "install", "--jobs", "4", "--retry", "2"); err != nil {
			return fmt.Errorf("bundle install failed (see Bundler's message above; gem sources: %s): %w", b.sources, err)
		}
		if same {
			if err := b.run(ctx, "clean"); err != nil {
				return fmt.Errorf("bundle clean failed: %w", err)
			}
		}
		// The downloaded .gem archives: installed gems do not need them at launch.
		caches, _ := filepath.Glob(filepath.Join(lay.Path, "ruby", "*", "cache"))
		for _, c := range caches {
			if err := os.RemoveAll(c); err != nil {
				return err
			}
		}
		if lock2, err := ReadLockfile(bc.AppDir); err == nil && lock2 != nil {
			if err := writeGemsSBOM(lay, lock2); err != nil {
				return err
			}
		}
	}
	launch := lay.LaunchEnv()
	for _, kv := range settings {
		k, v, _ := strings.Cut(kv, "=")
		if err := launch.Default(k, v); err != nil {
			return err
		}
	}
	lay.Metadata = want
	lay.Types = sdk.LayerTypes{Launch: true, Cache: true}
	return lay.Write()
}

// writeGemsSBOM lists the locked gems as pkg:gem components.
func writeGemsSBOM(lay *sdk.Layer, lock *Lockfile) error {
	var names []string
	for n := range lock.Specs {
		names = append(names, n)
	}
	sort.Strings(names)
	var comps []sdk.Component
	for _, n := range names {
		v := lock.Specs[n]
		comps = append(comps, sdk.Component{Name: n, Version: v, PURL: "pkg:gem/" + n + "@" + v})
	}
	return lay.WriteCycloneDX(comps)
}

// fileKey is the SHA-256 of the named app files (missing ones count as absent).
func fileKey(appDir string, names ...string) string {
	h := sha256.New()
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(appDir, n))
		if err != nil {
			fmt.Fprintf(h, "%s absent\n", n)
			continue
		}
		sum := sha256.Sum256(b)
		fmt.Fprintf(h, "%s %x\n", n, sum)
	}
	return hex.EncodeToString(h.Sum(nil))
}
