package ruby

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// notInstalled are dependencies of Debian's Ruby packages taken as installed: Debian
// makes libruby depend on gems Ruby once bundled (rake, webrick, xmlrpc, net-telnet,
// sdbm), which would sit on every app's load path ahead of the versions its Gemfile.lock
// pins; an app that needs them lists them in its Gemfile, as with any other Ruby.
var notInstalled = []string{"rake", "ruby-webrick", "ruby-xmlrpc", "ruby-net-telnet", "ruby-sdbm",
	"fonts-lato", "libjs-jquery"}

// runtime installs Ruby from the Debian packages of the stack's apt sources (and any
// extra source of BP_RUBY_APT_SOURCE).
type runtime struct {
	apt *sdk.Apt
	lay *sdk.Layer
	// offered is what Versions found, kept in the ruby layer for the next build.
	offered sdk.Releases
}

// Versions lists the Ruby versions the repositories offer (a rubyX.Y package each).
func (r *runtime) Versions(ctx context.Context) ([]Version, error) {
	rel, err := r.apt.Releases(ctx, r.lay, func(major, minor int) string { return fmt.Sprintf("ruby%d.%d", major, minor) }, 2, 3, 4)
	r.offered = rel
	return rel.Versions, err
}

// VersionError says no repository has a Ruby the requirement allows, listing what they have.
type VersionError struct {
	Req     Requirement
	Offered []Version
}

func (e *VersionError) Error() string {
	var vs []string
	for _, v := range e.Offered {
		vs = append(vs, fmt.Sprintf("%s (ruby%s)", v, v.Minor()))
	}
	offer := "no Ruby at all"
	if len(vs) > 0 {
		offer = strings.Join(vs, ", ")
	}
	return fmt.Sprintf("no Ruby matches %q (%s); the apt repositories offer %s. Change the version, or add an apt repository with more Ruby versions with BP_RUBY_APT_SOURCE (a signed one-line deb entry)", e.Req.Text, e.Req.Source, offer)
}

// Install puts Ruby v (interpreter, standard library, RubyGems, Bundler and the headers
// native extensions compile against) into the ruby layer and makes it work from there.
// It returns the layer's ruby binary and whether the layer was reused.
func (r *runtime) Install(ctx context.Context, v Version) (string, bool, error) {
	minor := v.Minor()
	pkgs := []string{"ruby" + minor, "ruby" + minor + "-dev", "ruby-rubygems", "ruby-bundler"}
	res, err := r.apt.Install(ctx, r.lay, sdk.AptRequest{Packages: pkgs, Launch: true, Build: true, Cache: true, Satisfied: notInstalled})
	if err != nil {
		return "", false, err
	}
	ruby := filepath.Join(r.lay.Path, "usr", "bin", "ruby"+minor)
	if !res.Reused {
		if err := relocateRuby(r.lay, minor); err != nil {
			return "", false, fmt.Errorf("relocate Ruby in layer %s: %w", r.lay.Name, err)
		}
	}
	// Written on a reused layer too, which an older build may have left with an override.
	if err := writeGemPath(r.lay, minor); err != nil {
		return "", false, err
	}
	return ruby, res.Reused, nil
}

// libDirs are the directories Debian's Ruby has compiled into its load path (the
// order of `ruby -e 'puts $LOAD_PATH'`), relative to the prefix; site_ruby is left out
// (nothing is installed there).
func libDirs(minor, arch string) []string {
	api := minor + ".0"
	return []string{
		"lib/ruby/vendor_ruby/" + api,
		"lib/" + arch + "/ruby/vendor_ruby/" + api,
		"lib/ruby/vendor_ruby",
		"lib/ruby/" + api,
		"lib/" + arch + "/ruby/" + api,
	}
}

// multiarch is the Debian multiarch triplet of the layer's libruby (x86_64-linux-gnu).
func multiarch(layer string) string {
	m, _ := filepath.Glob(filepath.Join(layer, "usr/lib/*-linux-gnu*/ruby"))
	if len(m) > 0 {
		return filepath.Base(filepath.Dir(m[0]))
	}
	return "x86_64-linux-gnu"
}

// relocateRuby makes Debian's Ruby work from the layer. Ruby finds its standard library
// only at the /usr paths compiled into it, so the layer's copies go on RUBYLIB; RubyGems
// finds its default gems and Bundler through rbconfig.rb, which derives its prefix from
// its own location (so it names the layer), and through GEM_PATH for Debian's
// rubygems-integration directory. Scripts in usr/bin get the layer's ruby in their #!
// line. See README.md, "How Ruby runs from a layer".
func relocateRuby(lay *sdk.Layer, minor string) error {
	usr := filepath.Join(lay.Path, "usr")
	arch := multiarch(lay.Path)
	var rubylib []string
	for _, d := range libDirs(minor, arch) {
		if fi, err := os.Stat(filepath.Join(usr, d)); err == nil && fi.IsDir() {
			rubylib = append(rubylib, filepath.Join(usr, d))
		}
	}
	if len(rubylib) == 0 {
		return fmt.Errorf("no Ruby standard library under %s", usr)
	}
	if err := lay.SharedEnv().Prepend("RUBYLIB", strings.Join(rubylib, ":"), ":"); err != nil {
		return err
	}
	if err := patchOperatingSystem(usr); err != nil {
		return err
	}
	return rewriteShebangs(filepath.Join(usr, "bin"), filepath.Join(usr, "bin", "ruby"+minor))
}

// loadPathFix runs inside every Ruby of the layer (appended to Debian's
// rubygems/defaults/operating_system.rb, which RubyGems loads as it starts). RUBYLIB puts
// the layer's standard library ahead of the load path, where it would also be ahead of
// every gem RubyGems or Bundler activates (they insert before Ruby's own directories): a
// json or psych pinned in Gemfile.lock would lose to the default gem. So each layer
// directory is moved to the place of the /usr directory it stands for.
const loadPathFix = `
# Added by slipway/ruby: this Ruby runs from a layer, not from /usr (see the
# buildpack's README, "How Ruby runs from a layer").
begin
  slipway_prefix = %q(@PREFIX@)
  slipway_dirs = $LOAD_PATH.select { |d| d.start_with?(slipway_prefix + "/usr/") }
  slipway_moved = slipway_dirs.select { |d| $LOAD_PATH.include?(d.delete_prefix(slipway_prefix)) }
  unless slipway_moved.empty?
    slipway_path = []
    $LOAD_PATH.each do |d|
      next if slipway_moved.include?(d) && !d.start_with?("/usr/")
      if slipway_moved.include?(slipway_prefix + d)
        e = (slipway_prefix + d).dup
        e.instance_variable_set(:@gem_prelude_index, e) if d.instance_variable_defined?(:@gem_prelude_index)
        slipway_path << e
      else
        slipway_path << d
      end
    end
    $LOAD_PATH.replace(slipway_path)
  end
rescue StandardError
end
`

// gemPath is where RubyGems finds the layer's default gems and Debian's gems (Bundler).
func gemPath(layer, minor string) string {
	usr := filepath.Join(layer, "usr")
	return filepath.Join(usr, "lib/ruby/gems", minor+".0") + ":" + filepath.Join(usr, "share/rubygems-integration/all")
}

// writeGemPath appends the layer's gem directories to GEM_PATH rather than overriding it:
// the bundler layer, applied before this one (layers apply in alphabetical order,
// buildpack.md, Environment Variable Modification Rules), puts the Bundler Gemfile.lock
// names ahead of Debian's.
func writeGemPath(lay *sdk.Layer, minor string) error {
	if err := os.Remove(filepath.Join(lay.SharedEnv().Path, "GEM_PATH.override")); err != nil && !os.IsNotExist(err) {
		return err
	}
	return lay.SharedEnv().Append("GEM_PATH", gemPath(lay.Path, minor), ":")
}

func patchOperatingSystem(usr string) error {
	p := filepath.Join(usr, "lib/ruby/vendor_ruby/rubygems/defaults/operating_system.rb")
	b, err := os.ReadFile(p)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	b = append(b, strings.ReplaceAll(loadPathFix, "@PREFIX@", filepath.Dir(usr))...)
	if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
		return err
	}
	return os.WriteFile(p, b, 0o644)
}

var rubyShebang = regexp.MustCompile(`^#!\s*/usr/bin/(?:env\s+)?ruby[0-9.]*[ \t]*`)

// rewriteShebangs points the #! line of Ruby scripts in dir at ruby.
func rewriteShebangs(dir, ruby string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		first, rest, _ := bytes.Cut(b, []byte("\n"))
		loc := rubyShebang.FindIndex(first)
		if loc == nil {
			continue
		}
		line := "#!" + ruby
		if tail := strings.TrimSpace(string(first[loc[1]:])); tail != "" {
			line += " " + tail
		}
		out := append([]byte(line+"\n"), rest...)
		info, err := e.Info()
		if err != nil {
			return err
		}
		if err := os.Remove(p); err != nil { // a hard link shared with the apt cache must not change
			return err
		}
		if err := os.WriteFile(p, out, info.Mode().Perm()); err != nil {
			return err
		}
	}
	return nil
}

// env is the environment that runs the layer's Ruby at build: what the layer's env
// directories give later buildpacks and the app (PATH, LD_LIBRARY_PATH, RUBYLIB,
// GEM_PATH), plus the compiler paths of its headers and libraries.
func (r *runtime) env(base sdk.Environ, minor string) []string {
	usr := filepath.Join(r.lay.Path, "usr")
	arch := multiarch(r.lay.Path)
	var rubylib []string
	for _, d := range libDirs(minor, arch) {
		if fi, err := os.Stat(filepath.Join(usr, d)); err == nil && fi.IsDir() {
			rubylib = append(rubylib, filepath.Join(usr, d))
		}
	}
	join := func(a, b string) string { return strings.Trim(a+":"+b, ":") }
	libs := filepath.Join(usr, "lib", arch)
	return base.List(
		"PATH="+join(filepath.Join(usr, "bin"), base.Get("PATH")),
		"LD_LIBRARY_PATH="+join(libs, base.Get("LD_LIBRARY_PATH")),
		"LIBRARY_PATH="+join(libs, base.Get("LIBRARY_PATH")),
		"RUBYLIB="+join(strings.Join(rubylib, ":"), base.Get("RUBYLIB")),
		"GEM_PATH="+gemPath(r.lay.Path, minor),
	)
}
