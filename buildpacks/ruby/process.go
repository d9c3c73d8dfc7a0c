package ruby

import (
	"fmt"
	"os"
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
	case isRails(appDir, lock):
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
	rails := isRails(appDir, lock)
	switch setting {
	case "true", "1", "yes":
		return rails
	case "false", "0", "no":
		return false
	}
	return rails && (lock.Has("sprockets") || lock.Has("sprockets-rails") || lock.Has("propshaft"))
}

// isRails reports whether the app is a Rails app: bin/rails, and railties locked.
func isRails(appDir string, lock *Lockfile) bool {
	return exists(filepath.Join(appDir, "bin", "rails")) && lock.Has("railties")
}

// railsWritable are the app directories `rails server` writes to at launch: its pid file
// (tmp/pids), tmp/cache and tmp/sockets, which it creates as it starts, and log/.
var railsWritable = []string{"tmp/cache", "tmp/pids", "tmp/sockets", "log"}

// makeRailsWritable creates railsWritable in the app and makes them (and tmp/) group
// writable: the app runs as the run image's user, whose UID differs from the build
// user's that owns the app's files (platform.md, Run Image), and on Slipway's stacks the
// two share a group (stack/default-bookworm.toml, [user]).
func makeRailsWritable(appDir string) error {
	for _, d := range append([]string{"tmp"}, railsWritable...) {
		p := filepath.Join(appDir, d)
		if err := os.MkdirAll(p, 0o775); err != nil {
			return fmt.Errorf("create %s for rails server: %w", d, err)
		}
		if err := os.Chmod(p, 0o775); err != nil {
			return fmt.Errorf("make %s writable for rails server: %w", d, err)
		}
	}
	return nil
}
