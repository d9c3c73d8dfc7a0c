package ruby

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipway/slipway/internal/e2ekit"
	"github.com/slipway/slipway/internal/gemsource"
	"github.com/slipway/slipway/internal/pypiindex"
)

// bundler is the Bundler of Debian bookworm, the one the lockfiles name.
const bundler = "2.3.15"

// lockedBundler is the version of the Bundler the gem source serves besides: Debian's
// ruby-bundler 2.3.15, its files unchanged but for Bundler::VERSION, rebuilt as a .gem
// numbered 2.3.15.1 (a version Debian does not have, so the buildpack must fetch it).
const lockedBundler = "2.3.15.1"

// hello is a gem with a C extension, compiled by RubyGems at install against the ruby
// layer's headers.
var hello = gemsource.Gem{
	Name: "slipway_hello", Version: "1.0.0",
	Extensions: []string{"ext/slipway_hello/extconf.rb"},
	Files: map[string]string{
		"lib/slipway_hello.rb":              "require \"slipway_hello/slipway_hello\"\n",
		"ext/slipway_hello/extconf.rb":      "require \"mkmf\"\ncreate_makefile(\"slipway_hello/slipway_hello\")\n",
		"ext/slipway_hello/slipway_hello.c": helloC,
	},
}

const helloC = `#include <ruby.h>

static VALUE greet(VALUE self, VALUE who) {
    return rb_sprintf("hello from C, %"PRIsVALUE, who);
}

void Init_slipway_hello(void) {
    VALUE m = rb_define_module("SlipwayHello");
    rb_define_module_function(m, "greet", greet, 1);
}
`

// debianGems are gems rebuilt from Debian's ruby-* packages, made once per test binary.
var debianGems struct {
	once sync.Once
	gems map[string]gemsource.Gem
}

func gemsFromDebian(t *testing.T) map[string]gemsource.Gem {
	t.Helper()
	debianGems.once.Do(func() {
		debs := pypiindex.DebianPackages(t, "ruby-rack", "ruby-webrick", "ruby-sinatra", "ruby-rack-protection", "ruby-mustermann", "ruby-tilt", "ruby-ruby2-keywords", "ruby-bundler")
		tmp := t.TempDir()
		out := map[string]gemsource.Gem{}
		for _, g := range []struct {
			deb, name, version string
			deps               []gemsource.Dep
		}{
			{"ruby-rack", "rack", "2.2.22", nil},
			{"ruby-webrick", "webrick", "1.8.1", nil},
			{"ruby-sinatra", "sinatra", "3.0.5", []gemsource.Dep{dep("mustermann", "~> 3.0"), dep("rack", "~> 2.2, >= 2.2.4"), dep("rack-protection", "= 3.0.5"), dep("tilt", "~> 2.0")}},
			{"ruby-rack-protection", "rack-protection", "3.0.5", []gemsource.Dep{dep("rack", "")}},
			{"ruby-mustermann", "mustermann", "3.0.0", []gemsource.Dep{dep("ruby2_keywords", "~> 0.0.1")}},
			{"ruby-tilt", "tilt", "2.0.11", nil},
			{"ruby-ruby2-keywords", "ruby2_keywords", "0.0.5", nil},
		} {
			gem, err := gemsource.GemFromDeb(debs[g.deb], tmp, g.name, g.version, g.deps...)
			if err != nil {
				t.Fatal(err)
			}
			out[g.name] = gem
		}
		b, err := gemsource.GemFromDeb(debs["ruby-bundler"], tmp, "bundler", bundler)
		if err != nil {
			t.Fatal(err)
		}
		const versionRB = "lib/bundler/version.rb"
		if !strings.Contains(b.Files[versionRB], `VERSION = "`+bundler+`"`) {
			t.Fatalf("ruby-bundler's %s does not set VERSION = %q:\n%s", versionRB, bundler, b.Files[versionRB])
		}
		b.Version = lockedBundler
		b.Files[versionRB] = strings.Replace(b.Files[versionRB], `VERSION = "`+bundler+`"`, `VERSION = "`+lockedBundler+`"`, 1)
		out["bundler"] = b
		debianGems.gems = out
	})
	if debianGems.gems == nil {
		t.Fatal("gems from Debian packages were not made")
	}
	return debianGems.gems
}

func dep(name, req string) gemsource.Dep { return gemsource.Dep{Name: name, Req: req} }

func startSource(t *testing.T) *gemsource.Source {
	g := gemsFromDebian(t)
	return gemsource.Start(t, g["rack"], g["webrick"], g["sinatra"], g["rack-protection"], g["mustermann"], g["tilt"], g["ruby2_keywords"], hello, g["bundler"])
}

// rubyBuilder is the default builder's Ruby group on the default stack.
func rubyBuilder(t *testing.T) string {
	return e2ekit.OurBuilder(t, "slipway/build:bookworm", "slipway/run:bookworm", false, "slipway/apt", "slipway/ruby")
}

// mirrorBinding is a service binding of type bundler whose config (Bundler's own YAML
// config) mirrors rubygems.org to the test's gem source.
func mirrorBinding(t *testing.T, src *gemsource.Source) string {
	t.Helper()
	b := filepath.Join(t.TempDir(), "gem-mirror")
	e2ekit.WriteFile(t, filepath.Join(b, "type"), "bundler")
	e2ekit.WriteFile(t, filepath.Join(b, "config"), fmt.Sprintf("---\nBUNDLE_MIRROR__HTTPS://RUBYGEMS__ORG/: %q\n", src.URL+"/"))
	return b
}

// app writes a Bundler app: a Gemfile from rubygems.org depending on gems, its lockfile
// from the source, and files.
func app(t *testing.T, src *gemsource.Source, rubyLine string, gems []string, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "app")
	var gemfile strings.Builder
	gemfile.WriteString("source \"https://rubygems.org\"\n\n")
	if rubyLine != "" {
		gemfile.WriteString(rubyLine + "\n\n")
	}
	for _, g := range gems {
		fmt.Fprintf(&gemfile, "gem %q\n", g)
	}
	e2ekit.WriteFile(t, filepath.Join(dir, "Gemfile"), gemfile.String())
	e2ekit.WriteFile(t, filepath.Join(dir, "Gemfile.lock"), src.Lockfile("https://rubygems.org/", bundler, gems...))
	for name, content := range files {
		e2ekit.WriteFile(t, filepath.Join(dir, name), content)
	}
	return dir
}

func buildArgs(name, app, builder, binding string, env ...string) []string {
	args := []string{"build", name, "--path", app, "--builder", builder, "--network", "host", "--binding", "gem-mirror=" + binding}
	for _, e := range env {
		args = append(args, "--env", e)
	}
	return args
}

// get fetches path from the container and checks the body, showing the container's
// output when it lacks something.
func get(t *testing.T, c *e2ekit.Container, path string, wants ...string) {
	t.Helper()
	body := c.GetPath(path)
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("GET %s lacks %q:\n%s\ncontainer output:\n%s", path, w, body, c.Logs())
			break
		}
	}
}

// configRU answers with what proves the runtime works from its layer: the C extension
// of a gem, json (a C extension of Ruby's standard library), the Ruby version, the path.
const configRU = `require "json"
require "slipway_hello"

run lambda { |env|
  body = SlipwayHello.greet("rack") + " " + JSON.generate("ruby" => RUBY_VERSION, "path" => env["PATH_INFO"]) + "\n"
  [200, { "content-type" => "text/plain" }, [body]]
}
`

// The main Ruby flow: a Rack app whose Gemfile names rubygems.org, mirrored to
// the test's gem source through a binding, builds with Ruby from Debian relocated into
// a layer, a gem with a C extension compiled at build, and answers HTTP through rackup;
// `ruby -e 'require "json"'` works at launch; editing a source file rebuilds without a
// request to the gem source, with the same gems layer, and changes only the app layer.
// On the same cache (one cold build for the package): a gem no source has and a Ruby
// version the repositories lack fail with clear messages, and the app becomes a Sinatra
// app that answers HTTP.
func TestRubyRack(t *testing.T) {
	t.Parallel()
	e := e2ekit.DefaultStackEnv(t)
	src := startSource(t)
	dir := app(t, src, `ruby "~> 3.1.0"`, []string{"rack", "slipway_hello", "webrick"}, map[string]string{"config.ru": configRU})
	args := buildArgs("ruby-rack", dir, rubyBuilder(t), mirrorBinding(t, src))

	start := time.Now()
	out := e.MustSlipway(args...)
	t.Logf("cold build: %s", time.Since(start).Round(time.Millisecond))
	e2ekit.MustContain(t, out, `Ruby 3.1.2 (from Gemfile ruby "~> 3.1.0")`, "Installed Ruby 3.1.2 into layer ruby",
		"Bundler 2.3.15 (Gemfile.lock BUNDLED WITH)", "Using Bundler's config from binding gem-mirror",
		"Installing gems with Bundler into layer gems", "Installing slipway_hello 1.0.0 with native extensions",
		"Process web: exec bundle exec rackup", "Successfully built image ruby-rack")
	if strings.Contains(out, src.URL) && !strings.Contains(out, "mirrors:") {
		t.Errorf("the mirror URL shows outside the sources line:\n%s", out)
	}
	first := e2ekit.ImageLayers(t, e.Store, "ruby-rack")
	md := e2ekit.LayerMetadata(t, e.Store, "ruby-rack")
	gemsSHA := e2ekit.BuildpackLayerSHA(md, "slipway/ruby", "gems")
	archive := filepath.Join(t.TempDir(), "ruby-rack.tar")
	e.MustSlipway("save", "ruby-rack", "-o", archive)
	c := e2ekit.PodmanServe(t, archive, "localhost/ruby-rack")
	get(t, c, "/deep/link", `hello from C, rack {"ruby":"3.1.2","path":"/deep/link"}`)

	got := c.Launch("bash", "-c", `ruby -e 'require "json"; puts JSON.generate(ok: 1)' && bundle exec ruby -e 'require "slipway_hello"; puts SlipwayHello.greet("launch")' && env | sort`)
	e2ekit.MustContain(t, got, `{"ok":1}`, "hello from C, launch", "BUNDLE_DEPLOYMENT=true", "BUNDLE_WITHOUT=development:test", "RACK_ENV=production")
	if strings.Contains(got, "MIRROR") || strings.Contains(got, src.URL) {
		t.Errorf("the gem mirror reached the image's environment:\n%s", got)
	}

	before := src.Requests()
	e2ekit.WriteFile(t, filepath.Join(dir, "config.ru"), strings.Replace(configRU, `greet("rack")`, `greet("edited")`, 1))
	start = time.Now()
	out = e.MustSlipway(args...)
	t.Logf("rebuild after a source edit: %s", time.Since(start).Round(time.Millisecond))
	if n := src.Requests() - before; n != 0 {
		t.Errorf("the rebuild made %d requests to the gem source", n)
	}
	e2ekit.MustContain(t, out, "Reusing Ruby 3.1.2 layer", "Reusing the gems layer (Gemfile.lock unchanged)")
	if sha := e2ekit.BuildpackLayerSHA(e2ekit.LayerMetadata(t, e.Store, "ruby-rack"), "slipway/ruby", "gems"); sha != gemsSHA {
		t.Errorf("gems layer %s → %s after a source edit", gemsSHA, sha)
	}
	second := e2ekit.ImageLayers(t, e.Store, "ruby-rack")
	if len(first) != len(second) {
		t.Fatalf("layer count %d → %d", len(first), len(second))
	}
	var changed []int
	for i := range first {
		if first[i] != second[i] {
			changed = append(changed, i)
		}
	}
	if len(changed) != 1 {
		t.Errorf("changed layers %v of %d; want exactly the app layer", changed, len(first))
	}

	// A lockfile naming a gem no source has: the ruby layer is reused, Bundler runs
	// again and fails with its message and the sources searched.
	lock := src.Lockfile("https://rubygems.org/", bundler, "nosuch_gem", "rack", "slipway_hello", "webrick")
	e2ekit.WriteFile(t, filepath.Join(dir, "Gemfile.lock"), lock)
	e2ekit.WriteFile(t, filepath.Join(dir, "Gemfile"), "source \"https://rubygems.org\"\nruby \"~> 3.1.0\"\ngem \"nosuch_gem\"\ngem \"rack\"\ngem \"slipway_hello\"\ngem \"webrick\"\n")
	out, code := e.Slipway(args...)
	if code == 0 {
		t.Fatalf("a build with an unknown gem succeeded:\n%s", out)
	}
	e2ekit.MustContain(t, out, "Reusing Ruby 3.1.2 layer", "nosuch_gem", "bundle install failed", "gem sources: https://rubygems.org/ (mirrors: https://rubygems.org/ → "+src.URL+"/)")

	// A Ruby version the apt repositories lack: the versions they offer (kept in the
	// ruby layer's metadata, so the indexes are not read again).
	e2ekit.WriteFile(t, filepath.Join(dir, "Gemfile"), "source \"https://rubygems.org\"\nruby \"3.3.0\"\ngem \"rack\"\n")
	out, code = e.Slipway(args...)
	if code == 0 {
		t.Fatalf("a build asking for Ruby 3.3.0 succeeded:\n%s", out)
	}
	e2ekit.MustContain(t, out, `no Ruby matches "3.3.0" (Gemfile ruby); the apt repositories offer 3.1.2 (ruby3.1)`)

	// A lockfile BUNDLED WITH a Bundler the gem source does not have: the version, the
	// source (through its mirror) and what it has, before any gem is installed.
	e2ekit.WriteFile(t, filepath.Join(dir, "Gemfile"), "source \"https://rubygems.org\"\nruby \"~> 3.1.0\"\ngem \"rack\"\n")
	e2ekit.WriteFile(t, filepath.Join(dir, "Gemfile.lock"), src.Lockfile("https://rubygems.org/", "2.9.0", "rack"))
	out, code = e.Slipway(args...)
	if code == 0 {
		t.Fatalf("a build BUNDLED WITH 2.9.0 succeeded:\n%s", out)
	}
	e2ekit.MustContain(t, out, "Gemfile.lock is BUNDLED WITH 2.9.0, but the gem source https://rubygems.org/ (mirror "+src.URL+"/) has no bundler 2.9.0 (it has bundler "+lockedBundler+")")
	if strings.Contains(out, "Installing gems with Bundler") {
		t.Errorf("gems were installed before the Bundler check failed:\n%s", out)
	}

	sinatraApp(t, e, src, dir, args)
	railsApp(t, e, src, dir, args)
}

// sinatraApp turns the app of TestRubyRack into a Sinatra-shaped app (a modular
// Sinatra::Base app run from config.ru, its Ruby from .ruby-version) with gems rebuilt
// from Debian's ruby-sinatra and its dependencies, its Gemfile.lock BUNDLED WITH a
// Bundler Debian does not have, and builds it as the same image: the ruby layer is
// reused, the locked Bundler is installed from the gem source (through the mirror) into
// a layer of its own and is the one that installs the new gems into the gems layer,
// removes the one no longer locked, and runs the app.
func sinatraApp(t *testing.T, e *e2ekit.Env, src *gemsource.Source, dir string, args []string) {
	e2ekit.WriteFile(t, filepath.Join(dir, "Gemfile"), "source \"https://rubygems.org\"\n\ngem \"sinatra\"\ngem \"webrick\"\n")
	e2ekit.WriteFile(t, filepath.Join(dir, "Gemfile.lock"), src.Lockfile("https://rubygems.org/", lockedBundler, "sinatra", "webrick"))
	e2ekit.WriteFile(t, filepath.Join(dir, ".ruby-version"), "3.1.2\n")
	e2ekit.WriteFile(t, filepath.Join(dir, "app.rb"), `require "sinatra/base"

class App < Sinatra::Base
  get "/hello/:name" do
    "sinatra says hello to #{params[:name]} on #{RUBY_VERSION} with Bundler #{Bundler::VERSION}\n"
  end
end
`)
	e2ekit.WriteFile(t, filepath.Join(dir, "config.ru"), "require_relative \"app\"\nrun App\n")
	start := time.Now()
	out := e.MustSlipway(args...)
	t.Logf("Sinatra build on the Rack app's cache: %s", time.Since(start).Round(time.Millisecond))
	e2ekit.MustContain(t, out, `Ruby 3.1.2 (from .ruby-version "3.1.2")`, "Reusing Ruby 3.1.2 layer",
		"Bundler "+lockedBundler+" (Gemfile.lock BUNDLED WITH; Debian's is "+bundler+")",
		"Installed Bundler "+lockedBundler+" from https://rubygems.org/ (mirror "+src.URL+"/) into layer bundler",
		"Installing sinatra 3.0.5", "Removing slipway_hello", "Process web: exec bundle exec rackup")
	archive := filepath.Join(t.TempDir(), "ruby-sinatra.tar")
	e.MustSlipway("save", "ruby-rack", "-o", archive)
	c := e2ekit.PodmanServe(t, archive, "localhost/ruby-rack")
	get(t, c, "/hello/slipway", "sinatra says hello to slipway on 3.1.2 with Bundler "+lockedBundler)
	got := c.Launch("bash", "-c", "bundle --version && gem list bundler")
	e2ekit.MustContain(t, got, "Bundler version "+lockedBundler, "bundler ("+lockedBundler)
}

// A Gemfile.lock Bundler cannot read fails the build before anything is installed, with
// the file and the position at fault. (The unknown gem and the missing Ruby version are
// cases of TestRubyRack, on its cache.)
func TestRubyBadInput(t *testing.T) {
	t.Parallel()
	e := e2ekit.DefaultStackEnv(t)
	src := startSource(t)
	builder := rubyBuilder(t)
	binding := mirrorBinding(t, src)
	goodLock := src.Lockfile("https://rubygems.org/", bundler, "rack")
	cases := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"merge conflict in Gemfile.lock", map[string]string{"Gemfile": "source \"https://rubygems.org\"\ngem \"rack\"\n",
			"Gemfile.lock": strings.Replace(goodLock, "    rack (", "<<<<<<< HEAD\n    rack (", 1)},
			[]string{`Gemfile.lock: line 4, column 1: a merge conflict marker "<<<<<<<"`}},
		{"Gemfile.lock spec without a version", map[string]string{"Gemfile": "source \"https://rubygems.org\"\ngem \"rack\"\n",
			"Gemfile.lock": strings.Replace(goodLock, "    rack (2.2.22)", "    rack", 1)},
			[]string{`Gemfile.lock: line 4, column 5: expected a locked gem like`}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "app")
			for name, content := range tc.files {
				e2ekit.WriteFile(t, filepath.Join(dir, name), content)
			}
			out, code := e.Slipway(buildArgs(fmt.Sprintf("ruby-bad-%d", i), dir, builder, binding)...)
			if code == 0 {
				t.Fatalf("build succeeded:\n%s", out)
			}
			e2ekit.MustContain(t, out, tc.want...)
		})
	}
}
