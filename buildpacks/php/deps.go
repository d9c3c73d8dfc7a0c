package php

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// DefaultRepository is Composer's default package repository.
const DefaultRepository = "https://repo.packagist.org"

// composerRun is what running Composer needs.
type composerRun struct {
	bc       sdk.BuildContext
	php      string   // the php layer's PHP
	composer string   // the composer script
	env      []string // PHP's environment plus Composer's settings
	repos    string   // the repositories in use, for messages
}

func (c *composerRun) run(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, c.php, append([]string{c.composer}, args...)...)
	cmd.Dir = c.bc.AppDir
	cmd.Env = c.env
	cmd.Stdout, cmd.Stderr = c.bc.Log.Writer(), c.bc.Log.Writer()
	return cmd.Run()
}

// installComposer puts Debian's composer package into the composer layer (build only):
// its PHP libraries, without the PHP the php layer already holds.
func installComposer(ctx context.Context, apt *sdk.Apt, bc sdk.BuildContext, phpLayer *sdk.Layer) (string, error) {
	lay, err := bc.Layers.Get(layerComposer)
	if err != nil {
		return "", err
	}
	satisfied := append(append([]string(nil), maintainerOnly...), aptPackageNames(phpLayer)...)
	res, err := apt.Install(ctx, lay, sdk.AptRequest{Packages: []string{"composer"}, Build: true, Cache: true, Satisfied: satisfied})
	if err != nil {
		return "", fmt.Errorf("install composer: %w", err)
	}
	if !res.Reused {
		bc.Log.Step("Installed Composer into layer %s", layerComposer)
	}
	return filepath.Join(lay.Path, "usr", "bin", "composer"), nil
}

// aptPackageNames are the Debian packages sdk.Apt recorded in a layer's metadata.
func aptPackageNames(lay *sdk.Layer) []string {
	list, _ := lay.Metadata["packages"].(string)
	var out []string
	for _, f := range strings.Fields(list) {
		if name, _, ok := strings.Cut(f, "="); ok {
			out = append(out, name)
		}
	}
	return out
}

// composerHome makes a COMPOSER_HOME for this build only, so credentials never reach a
// layer: config.json and auth.json from a binding of type composer, and
// BP_COMPOSER_REPOSITORY as a Composer repository in place of packagist.org. It returns
// a description of the repositories for messages.
func composerHome(bc sdk.BuildContext, dir, repository string, m *Manifest) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create COMPOSER_HOME: %w", err)
	}
	cfg := map[string]any{}
	for _, b := range bc.Env.Bindings(bc.PlatformDir, "composer") {
		for _, f := range []string{"config.json", "auth.json"} {
			src := filepath.Join(b.Path, f)
			data, err := os.ReadFile(src)
			if err != nil {
				continue
			}
			if f == "config.json" {
				if err := json.Unmarshal(data, &cfg); err != nil {
					return "", jsonError("binding "+b.Name+" "+f, data, err)
				}
			} else if err := os.WriteFile(filepath.Join(dir, f), data, 0o600); err != nil {
				return "", err
			}
			bc.Log.Step("Using %s from binding %s", f, b.Name)
		}
	}
	if repository != "" {
		repos, _ := cfg["repositories"].([]any)
		cfg["repositories"] = append(repos, map[string]any{"type": "composer", "url": repository}, map[string]any{"packagist.org": false})
		if strings.HasPrefix(repository, "http://") {
			// Composer refuses plain HTTP unless told; the user chose this URL.
			c, _ := cfg["config"].(map[string]any)
			if c == nil {
				c = map[string]any{}
			}
			c["secure-http"] = false
			cfg["config"] = c
		}
		bc.Log.Step("Composer repository %s (BP_COMPOSER_REPOSITORY) instead of packagist.org", repository)
	}
	if len(cfg) > 0 {
		data, err := json.MarshalIndent(cfg, "", "  ")
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o600); err != nil {
			return "", err
		}
	}
	return describeRepositories(m.Repositories, cfg["repositories"]), nil
}

// describeRepositories lists the repositories Composer searches, project ones first, as
// "URL" entries, and whether packagist.org is among them.
func describeRepositories(lists ...any) string {
	var urls []string
	packagist := true
	for _, list := range lists {
		var entries []any
		switch l := list.(type) {
		case []any:
			entries = l
		case map[string]any:
			var keys []string
			for k := range l {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if r, ok := l[k].(map[string]any); ok {
					entries = append(entries, r)
				} else {
					entries = append(entries, map[string]any{k: l[k]})
				}
			}
		}
		for _, e := range entries {
			r, ok := e.(map[string]any)
			if !ok {
				continue
			}
			if v, ok := r["packagist.org"]; ok && v == false {
				packagist = false
			}
			if v, ok := r["packagist"]; ok && v == false {
				packagist = false
			}
			if u, ok := r["url"].(string); ok {
				t, _ := r["type"].(string)
				urls = append(urls, fmt.Sprintf("%s (%s)", u, t))
			}
		}
	}
	if packagist {
		urls = append(urls, DefaultRepository+" (packagist.org)")
	}
	return strings.Join(urls, ", ")
}

// installVendor makes (or reuses) the vendor layer: `composer install` with the vendor
// directory in the layer, reused while composer.json and composer.lock, the PHP version
// and the options are unchanged. The app's vendor path becomes a link to it.
func installVendor(ctx context.Context, c *composerRun, m *Manifest, v Version, options []string) error {
	bc, log := c.bc, c.bc.Log
	lay, err := bc.Layers.Get(layerVendor)
	if err != nil {
		return err
	}
	inputs := fileKey(bc.AppDir, "composer.json", "composer.lock")
	classes, err := m.autoloadKey(bc.AppDir)
	if err != nil {
		return err
	}
	want := map[string]any{"inputs": inputs, "php": v.String(), "options": strings.Join(options, " ")}
	vendor := filepath.Join(lay.Path, "vendor")
	appVendor := filepath.Join(bc.AppDir, m.VendorDir)
	if fi, err := os.Lstat(appVendor); err == nil {
		if fi.Mode()&os.ModeSymlink == 0 {
			log.Warnf("%s/ of the app is replaced: dependencies are installed by composer into layer %s", m.VendorDir, layerVendor)
		}
		if err := os.RemoveAll(appVendor); err != nil {
			return fmt.Errorf("remove %s: %w", appVendor, err)
		}
	}
	c.env = append(c.env, "COMPOSER_VENDOR_DIR="+vendor)
	same := lay.Exists() && exists(filepath.Join(vendor, "autoload.php"))
	for k, val := range want {
		if fmt.Sprint(lay.Metadata[k]) != fmt.Sprint(val) {
			same = false
		}
	}
	noDev := []string{}
	for _, o := range options {
		if o == "--no-dev" {
			noDev = append(noDev, o)
		}
	}
	switch {
	case same && fmt.Sprint(lay.Metadata["classes"]) == classes:
		log.Step("Reusing the vendor layer (composer.json and composer.lock unchanged)")
	case same:
		log.Step("Reusing the vendor layer; the app's classes changed: regenerating the class map")
		if err := c.run(ctx, append([]string{"dump-autoload", "--optimize", "--no-interaction"}, noDev...)...); err != nil {
			return fmt.Errorf("composer dump-autoload failed (see its message above): %w", err)
		}
	default:
		if m.Lock == nil {
			log.Warnf("no composer.lock: dependency versions are resolved now, at build; commit composer.lock for repeatable builds")
		}
		log.Step("Installing dependencies with composer into layer %s (repositories: %s)", layerVendor, c.repos)
		if err := lay.Reset(); err != nil {
			return err
		}
		args := append([]string{"install", "--no-interaction", "--no-progress", "--optimize-autoloader"}, options...)
		if err := c.run(ctx, args...); err != nil {
			return fmt.Errorf("composer install failed (see composer's message above; repositories searched: %s): %w", c.repos, err)
		}
		if err := writeVendorSBOM(lay, bc.AppDir); err != nil {
			return err
		}
	}
	if err := os.Symlink(vendor, appVendor); err != nil {
		return fmt.Errorf("link %s to the vendor layer: %w", m.VendorDir, err)
	}
	want["classes"] = classes
	lay.Metadata = want
	lay.Types = sdk.LayerTypes{Launch: true, Cache: true}
	return lay.Write()
}

// writeVendorSBOM lists the installed packages (composer.lock, or the one composer just
// wrote) as pkg:composer components.
func writeVendorSBOM(lay *sdk.Layer, appDir string) error {
	var lock lockFile
	if ok, err := readJSON(filepath.Join(appDir, "composer.lock"), &lock); err != nil || !ok {
		return err
	}
	var comps []sdk.Component
	for _, p := range lock.Packages {
		comps = append(comps, sdk.Component{Name: p.Name, Version: p.Version, PURL: "pkg:composer/" + p.Name + "@" + p.Version})
	}
	return lay.WriteCycloneDX(comps)
}
