package ruby

import (
	"path/filepath"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// webProcess chooses the web process (the rule documented in README.md): a Rails app
// (bin/rails and railties locked) runs `bin/rails server`; an app with config.ru runs
// puma when it is locked, else rackup; otherwise nothing, and why. Each listens on
// 0.0.0.0:$PORT.
func webProcess(appDir string, lock *Lockfile) (*sdk.Process, string) {
	bash := func(script string) *sdk.Process {
		return &sdk.Process{Type: "web", Default: true, Command: []string{"bash", "-c", script}}
	}
	switch {
	case exists(filepath.Join(appDir, "bin", "rails")) && lock.Has("railties"):
		return bash(`exec bundle exec bin/rails server -b 0.0.0.0 -p "${PORT:-8080}"`), "Rails (bin/rails, railties in the lockfile)"
	case exists(filepath.Join(appDir, "config.ru")) && lock.Has("puma"):
		return bash(`exec bundle exec puma -b "tcp://0.0.0.0:${PORT:-8080}" config.ru`), "config.ru with puma in the lockfile"
	case exists(filepath.Join(appDir, "config.ru")) && lock.Has("rackup"):
		// Rack 3 moved rackup into a gem of its own.
		return bash(`exec bundle exec rackup -o 0.0.0.0 -p "${PORT:-8080}" config.ru`), "config.ru with rackup"
	case exists(filepath.Join(appDir, "config.ru")) && lock.Has("rack"):
		return bash(`exec bundle exec rackup -o 0.0.0.0 -p "${PORT:-8080}" config.ru`), "config.ru with rackup"
	case exists(filepath.Join(appDir, "config.ru")):
		return nil, "config.ru, but neither puma nor rack is in the lockfile"
	}
	return nil, "no bin/rails (with railties) and no config.ru"
}

// railsAssets reports whether `rails assets:precompile` runs at build: BP_RAILS_ASSETS
// decides when set, else a Rails app with an asset pipeline (sprockets, propshaft)
// locked.
func railsAssets(appDir string, lock *Lockfile, setting string) bool {
	rails := exists(filepath.Join(appDir, "bin", "rails")) && lock.Has("railties")
	switch setting {
	case "true", "1", "yes":
		return rails
	case "false", "0", "no":
		return false
	}
	return rails && (lock.Has("sprockets") || lock.Has("sprockets-rails") || lock.Has("propshaft"))
}
