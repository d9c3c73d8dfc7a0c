package ruby

import (
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// config is the buildpack's configuration (README.md lists each variable).
type config struct {
	Version     string // BP_RUBY_VERSION
	AptSource   string // BP_RUBY_APT_SOURCE
	RailsAssets string // BP_RAILS_ASSETS
	Without     string // BUNDLE_WITHOUT, development:test unless set
}

func readConfig(env sdk.Environ, platform string) config {
	get := func(name, def string) string { return strings.TrimSpace(env.Config(platform, name, def)) }
	return config{
		Version:     get("BP_RUBY_VERSION", ""),
		AptSource:   get("BP_RUBY_APT_SOURCE", ""),
		RailsAssets: strings.ToLower(get("BP_RAILS_ASSETS", "")),
		Without:     get("BUNDLE_WITHOUT", DefaultWithout),
	}
}
