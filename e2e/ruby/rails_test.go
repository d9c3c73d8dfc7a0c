package ruby

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipway/slipway/internal/e2ekit"
	"github.com/slipway/slipway/internal/gemsource"
	"github.com/slipway/slipway/internal/pypiindex"
)

// railsGems are Rails 6.1 (railties and actionpack, not the whole rails gem) with
// sprockets-rails and every gem they need, rebuilt from Debian bookworm's ruby-* packages;
// the dependencies are those of the upstream gemspecs of these versions, except that
// nokogiri's racc (a default gem of Ruby 3.1) and mini_portile2 (used only to compile
// libxml2 from source) are left out. nokogiri is Debian's build: its Ruby files and the
// extension Debian compiled against the system libxml2 and libxslt, which the app's
// Aptfile brings in.
var railsGems struct {
	once sync.Once
	gems []gemsource.Gem
}

func gemsForRails(t *testing.T) []gemsource.Gem {
	t.Helper()
	railsGems.once.Do(func() {
		const rails = "6.1.7.10"
		specs := []struct {
			deb, name, version string
			deps               []gemsource.Dep
		}{
			{"ruby-railties", "railties", rails, []gemsource.Dep{dep("actionpack", "= "+rails), dep("activesupport", "= "+rails), dep("method_source", ""), dep("rake", ">= 12.2"), dep("thor", "~> 1.0")}},
			{"ruby-actionpack", "actionpack", rails, []gemsource.Dep{dep("actionview", "= "+rails), dep("activesupport", "= "+rails), dep("rack", "~> 2.0, >= 2.0.9"), dep("rack-test", ">= 0.6.3"), dep("rails-dom-testing", "~> 2.0"), dep("rails-html-sanitizer", "~> 1.0, >= 1.2.0")}},
			{"ruby-actionview", "actionview", rails, []gemsource.Dep{dep("activesupport", "= "+rails), dep("builder", "~> 3.1"), dep("erubi", "~> 1.4"), dep("rails-dom-testing", "~> 2.0"), dep("rails-html-sanitizer", "~> 1.1, >= 1.2.0")}},
			{"ruby-activesupport", "activesupport", rails, []gemsource.Dep{dep("concurrent-ruby", "~> 1.0, >= 1.0.2"), dep("i18n", ">= 1.6, < 2"), dep("minitest", ">= 5.1"), dep("tzinfo", "~> 2.0"), dep("zeitwerk", "~> 2.3")}},
			{"ruby-rack-test", "rack-test", "2.0.2", []gemsource.Dep{dep("rack", ">= 1.3")}},
			{"ruby-rails-dom-testing", "rails-dom-testing", "2.0.3", []gemsource.Dep{dep("activesupport", ">= 4.2.0"), dep("nokogiri", ">= 1.6")}},
			{"ruby-rails-html-sanitizer", "rails-html-sanitizer", "1.4.4", []gemsource.Dep{dep("loofah", "~> 2.19, >= 2.19.1")}},
			{"ruby-loofah", "loofah", "2.19.1", []gemsource.Dep{dep("crass", "~> 1.0.2"), dep("nokogiri", ">= 1.5.9")}},
			{"ruby-nokogiri", "nokogiri", "1.13.10", nil},
			{"ruby-crass", "crass", "1.0.2", nil},
			{"ruby-builder", "builder", "3.2.4", nil},
			{"ruby-erubi", "erubi", "1.9.0", nil},
			{"ruby-method-source", "method_source", "1.0.0", nil},
			{"ruby-thor", "thor", "1.2.1", nil},
			{"rake", "rake", "13.0.6", nil},
			{"ruby-concurrent", "concurrent-ruby", "1.1.6", nil},
			{"ruby-i18n", "i18n", "1.10.0", []gemsource.Dep{dep("concurrent-ruby", "~> 1.0")}},
			{"ruby-tzinfo", "tzinfo", "2.0.5", []gemsource.Dep{dep("concurrent-ruby", "~> 1.0")}},
			{"ruby-zeitwerk", "zeitwerk", "2.6.1", nil},
			{"ruby-minitest", "minitest", "5.17.0", nil},
			{"ruby-sprockets", "sprockets", "3.7.2", []gemsource.Dep{dep("concurrent-ruby", "~> 1.0"), dep("rack", "> 1, < 3")}},
			{"ruby-sprockets-rails", "sprockets-rails", "3.4.1", []gemsource.Dep{dep("actionpack", ">= 5.2"), dep("activesupport", ">= 5.2"), dep("sprockets", ">= 3.0.0")}},
		}
		var names []string
		for _, s := range specs {
			names = append(names, s.deb)
		}
		debs := pypiindex.DebianPackages(t, names...)
		tmp := t.TempDir()
		for _, s := range specs {
			g, err := gemsource.GemFromDeb(debs[s.deb], tmp, s.name, s.version, s.deps...)
			if err != nil {
				t.Fatal(err)
			}
			railsGems.gems = append(railsGems.gems, g)
		}
	})
	if railsGems.gems == nil {
		t.Fatal("the Rails gems were not made")
	}
	return railsGems.gems
}

// railsFiles is a minimal Rails 6.1 app: Action Controller only, a controller that
// renders the digested path of a stylesheet compiled by sprockets.
var railsFiles = map[string]string{
	"Aptfile":        "libxml2\nlibxslt1.1\n",
	"Rakefile":       "require_relative \"config/application\"\nRails.application.load_tasks\n",
	"config.ru":      "require_relative \"config/environment\"\nrun Rails.application\n",
	"bin/rails":      "#!/usr/bin/env ruby\nAPP_PATH = File.expand_path(\"../config/application\", __dir__)\nrequire_relative \"../config/boot\"\nrequire \"rails/commands\"\n",
	"config/boot.rb": "ENV[\"BUNDLE_GEMFILE\"] ||= File.expand_path(\"../Gemfile\", __dir__)\nrequire \"bundler/setup\"\n",
	"config/application.rb": `require_relative "boot"
require "rails"
require "action_controller/railtie"
require "sprockets/railtie"

Bundler.require(*Rails.groups)

module Hello
  class Application < Rails::Application
    config.load_defaults 6.1
    config.secret_key_base = "slipway-e2e-only-" * 4
  end
end
`,
	"config/environment.rb": "require_relative \"application\"\nRails.application.initialize!\n",
	"config/environments/production.rb": `Rails.application.configure do
  config.cache_classes = true
  config.eager_load = true
  config.public_file_server.enabled = ENV["RAILS_SERVE_STATIC_FILES"].present?
  config.assets.compile = false
  config.log_level = :info
  if ENV["RAILS_LOG_TO_STDOUT"].present?
    config.logger = ActiveSupport::TaggedLogging.new(ActiveSupport::Logger.new($stdout))
  end
end
`,
	"config/routes.rb":                          "Rails.application.routes.draw do\n  get \"/hello/:name\", to: \"hello#show\"\nend\n",
	"app/controllers/application_controller.rb": "class ApplicationController < ActionController::Base\nend\n",
	"app/controllers/hello_controller.rb": `class HelloController < ApplicationController
  def show
    render plain: "rails #{Rails.version} (#{Rails.env}) says hello to #{params[:name]}; stylesheet #{helpers.asset_path("application.css")}\n"
  end
end
`,
	"app/assets/config/manifest.js":          "//= link application.css\n",
	"app/assets/stylesheets/application.css": "body { color: #c0ffee; }\n",
}

// railsApp turns the app of TestRubyRack into a minimal Rails 6.1 app on the same cache:
// the ruby layer is reused, Bundler installs Rails from the gem source, the build
// precompiles the assets, and the image runs bin/rails server on $PORT, answering from a
// controller and serving the digested stylesheet.
func railsApp(t *testing.T, e *e2ekit.Env, src *gemsource.Source, dir string, args []string) {
	for _, g := range gemsForRails(t) {
		if err := src.Add(g); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"app.rb", ".ruby-version"} {
		os.Remove(filepath.Join(dir, f))
	}
	e2ekit.WriteFile(t, filepath.Join(dir, "Gemfile"), "source \"https://rubygems.org\"\nruby \"~> 3.1.0\"\n\ngem \"railties\"\ngem \"actionpack\"\ngem \"sprockets-rails\"\ngem \"webrick\"\n")
	e2ekit.WriteFile(t, filepath.Join(dir, "Gemfile.lock"), src.Lockfile("https://rubygems.org/", bundler, "actionpack", "railties", "sprockets-rails", "webrick"))
	for name, content := range railsFiles {
		e2ekit.WriteFile(t, filepath.Join(dir, name), content)
	}
	if err := os.Chmod(filepath.Join(dir, "bin/rails"), 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	out := e.MustSlipway(args...)
	t.Logf("Rails build on the Rack app's cache: %s", time.Since(start).Round(time.Millisecond))
	e2ekit.MustContain(t, out, "Reusing Ruby 3.1.2 layer", "Installing railties 6.1.7.10", "Installing nokogiri 1.13.10",
		"Precompiling Rails assets (bin/rails assets:precompile)",
		"Process web: exec bundle exec bin/rails server -b 0.0.0.0 -p \"${PORT:-8080}\" (Rails (bin/rails, railties in the lockfile))")
	archive := filepath.Join(t.TempDir(), "ruby-rails.tar")
	e.MustSlipway("save", "ruby-rack", "-o", archive)
	c := e2ekit.PodmanServe(t, archive, "localhost/ruby-rack")
	body := c.GetPath("/hello/slipway")
	if !strings.Contains(body, "rails 6.1.7.10 (production) says hello to slipway; stylesheet /assets/application-") {
		t.Fatalf("GET /hello/slipway:\n%s\ncontainer output:\n%s", body, c.Logs())
	}
	css := strings.TrimSpace(body[strings.Index(body, "/assets/application-"):])
	get(t, c, css, "#c0ffee")
}
