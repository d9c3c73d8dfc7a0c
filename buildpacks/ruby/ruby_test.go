package ruby

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway/slipway/buildpacks/sdk"
)

func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		pass  bool
	}{
		{"Gemfile", map[string]string{"Gemfile": "source 'https://rubygems.org'\n"}, true},
		{"gems.rb", map[string]string{"gems.rb": ""}, true},
		{"no Gemfile", map[string]string{"config.ru": "run ->(e){}", "package.json": "{}"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, tc.files)
			res, err := Detect(context.Background(), sdk.DetectContext{AppDir: dir})
			if err != nil {
				t.Fatal(err)
			}
			if res.Pass != tc.pass {
				t.Fatalf("pass = %v, want %v (%s)", res.Pass, tc.pass, res.Reason)
			}
			if !res.Pass && !strings.Contains(res.Reason, "no Gemfile") {
				t.Errorf("reason %q does not say what was looked for", res.Reason)
			}
		})
	}
}

func TestVersionRequirement(t *testing.T) {
	offered := []Version{{3, 1, 2}, {3, 3, 4}}
	for _, tc := range []struct {
		name    string
		files   map[string]string
		setting string
		want    string // chosen version, "" for none, "error: …" for an error
		source  string
	}{
		{"none: newest", map[string]string{"Gemfile": "gem 'rack'\n"}, "", "3.3.4", ""},
		{"exact", map[string]string{"Gemfile": "ruby \"3.1.2\"\n"}, "", "3.1.2", "Gemfile ruby"},
		{"exact, absent", map[string]string{"Gemfile": "ruby '3.1.4'\n"}, "", "", "Gemfile ruby"},
		{"pessimistic", map[string]string{"Gemfile": "ruby \"~> 3.1.0\"\n"}, "", "3.1.2", "Gemfile ruby"},
		{"pessimistic minor", map[string]string{"Gemfile": "ruby \"~> 3.1\"\n"}, "", "3.3.4", "Gemfile ruby"},
		{"two clauses, parens", map[string]string{"Gemfile": "ruby(\">= 3.0\", \"< 3.2\")\n"}, "", "3.1.2", "Gemfile ruby"},
		{"engine option", map[string]string{"Gemfile": "ruby \"3.1.2\", engine: \"ruby\", engine_version: \"3.1.2\"\n"}, "", "3.1.2", "Gemfile ruby"},
		{"series", map[string]string{"Gemfile": "ruby \"3.1\"\n"}, "", "3.1.2", "Gemfile ruby"},
		{"file option", map[string]string{"Gemfile": "ruby file: \".ruby-version\"\n", ".ruby-version": "ruby-3.1.2\n"}, "", "3.1.2", ".ruby-version"},
		{".ruby-version", map[string]string{"Gemfile": "", ".ruby-version": "3.1\n"}, "", "3.1.2", ".ruby-version"},
		{"setting wins", map[string]string{"Gemfile": "ruby \"3.3.4\"\n"}, "3.1", "3.1.2", "BP_RUBY_VERSION"},
		{"commented directive is not one", map[string]string{"Gemfile": "# ruby \"2.7\"\n"}, "", "3.3.4", ""},
		{"bad .ruby-version", map[string]string{"Gemfile": "", ".ruby-version": "jruby-9.4\n"}, "", "error: .ruby-version: \"jruby-9.4\" is not a Ruby version", ""},
		{"unreadable directive", map[string]string{"Gemfile": "ruby RUBY_VERSION\n"}, "", "error: Gemfile: cannot read the ruby directive", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, tc.files)
			req, err := versionRequirement(dir, tc.setting)
			if msg, ok := strings.CutPrefix(tc.want, "error: "); ok {
				if err == nil || !strings.Contains(err.Error(), msg) {
					t.Fatalf("err = %v, want %q", err, msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if req.Source != tc.source {
				t.Errorf("source %q, want %q", req.Source, tc.source)
			}
			v, ok := req.Newest(offered)
			got := ""
			if ok {
				got = v.String()
			}
			if got != tc.want {
				t.Errorf("chose %q, want %q", got, tc.want)
			}
			if !ok {
				msg := (&VersionError{Req: req, Offered: offered}).Error()
				for _, w := range []string{req.Text, "the apt repositories offer 3.1.2 (ruby3.1), 3.3.4 (ruby3.3)", "BP_RUBY_APT_SOURCE"} {
					if !strings.Contains(msg, w) {
						t.Errorf("error %q lacks %q", msg, w)
					}
				}
			}
		})
	}
}

const goodLock = `GEM
  remote: https://rubygems.org/
  specs:
    nokogiri (1.15.4-x86_64-linux)
      racc (~> 1.4)
    puma (6.4.0)
      nio4r (~> 2.0)
    racc (1.7.1)

PLATFORMS
  x86_64-linux

DEPENDENCIES
  nokogiri
  puma (~> 6.0)

RUBY VERSION
   ruby 3.1.2p20

BUNDLED WITH
   2.4.19
`

func TestLockfile(t *testing.T) {
	l, err := parseLockfile("Gemfile.lock", goodLock)
	if err != nil {
		t.Fatal(err)
	}
	if l.BundledWith != "2.4.19" || l.Specs["nokogiri"] != "1.15.4" || !l.Has("puma") || l.Has("rails") || l.Remotes[0] != "https://rubygems.org/" {
		t.Errorf("read %+v", l)
	}
	for _, tc := range []struct {
		name, text, want string
	}{
		{"conflict", strings.Replace(goodLock, "    racc (1.7.1)\n", "<<<<<<< HEAD\n    racc (1.7.1)\n=======\n", 1), "Gemfile.lock: line 8, column 1: a merge conflict marker"},
		{"spec without version", strings.Replace(goodLock, "    racc (1.7.1)", "    racc", 1), `line 8, column 5: expected a locked gem like "    rack (2.2.8)", found "racc"`},
		{"bad version", strings.Replace(goodLock, "racc (1.7.1)", "racc (one)", 1), `line 8, column 11: "one" is not a gem version`},
		{"odd indent", strings.Replace(goodLock, "    racc (1.7.1)", "     racc (1.7.1)", 1), "line 8, column 6: unexpected indentation of 5 spaces"},
		{"unknown section", strings.Replace(goodLock, "PLATFORMS", "PLATFORM", 1), `line 10, column 1: unknown section "PLATFORM"`},
		{"bad bundler", strings.Replace(goodLock, "   2.4.19", "   latest", 1), `"latest" is not a Bundler version`},
		{"not a lockfile", "hello\n", `line 1, column 1: unknown section "hello"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseLockfile("Gemfile.lock", tc.text)
			var le *LockError
			if !errors.As(err, &le) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestWebProcess(t *testing.T) {
	lock := func(gems ...string) *Lockfile {
		l := &Lockfile{Specs: map[string]string{}}
		for _, g := range gems {
			l.Specs[g] = "1.0.0"
		}
		return l
	}
	for _, tc := range []struct {
		name   string
		files  map[string]string
		lock   *Lockfile
		want   string // part of the command, "" for no process
		assets bool
	}{
		{"rails", map[string]string{"bin/rails": "", "config.ru": ""}, lock("railties", "puma", "sprockets-rails"), "bin/rails server -b 0.0.0.0", true},
		{"rails without asset pipeline", map[string]string{"bin/rails": ""}, lock("railties"), "bin/rails server", false},
		{"puma", map[string]string{"config.ru": ""}, lock("rack", "puma"), `puma -b "tcp://0.0.0.0:${PORT:-8080}" config.ru`, false},
		{"rackup", map[string]string{"config.ru": ""}, lock("rack", "webrick"), `rackup -o 0.0.0.0 -p "${PORT:-8080}"`, false},
		{"config.ru without rack", map[string]string{"config.ru": ""}, lock(), "", false},
		{"nothing", map[string]string{"main.rb": ""}, lock("rack"), "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, tc.files)
			p, why := webProcess(dir, tc.lock)
			if tc.want == "" {
				if p != nil {
					t.Fatalf("process %v, want none", p.Command)
				}
				if why == "" {
					t.Error("no reason")
				}
			} else if p == nil || !strings.Contains(strings.Join(p.Command, " "), tc.want) {
				t.Fatalf("process %v (%s), want %q", p, why, tc.want)
			}
			if got := railsAssets(dir, tc.lock, ""); got != tc.assets {
				t.Errorf("assets = %v, want %v", got, tc.assets)
			}
		})
	}
}

func TestRelocateRuby(t *testing.T) {
	lay := &sdk.Layer{Name: "ruby", Path: filepath.Join(t.TempDir(), "ruby")}
	write(t, lay.Path, map[string]string{
		"usr/bin/bundle":                       "#!/usr/bin/ruby\nload 'x'\n",
		"usr/bin/erb3.1":                       "#!/usr/bin/ruby3.1 -w\n",
		"usr/bin/other":                        "#!/bin/sh\n",
		"usr/lib/ruby/3.1.0/set.rb":            "",
		"usr/lib/ruby/vendor_ruby/rubygems.rb": "",
		"usr/lib/ruby/vendor_ruby/rubygems/defaults/operating_system.rb": "class << Gem\nend\n",
		"usr/lib/x86_64-linux-gnu/ruby/3.1.0/rbconfig.rb":                "",
	})
	write(t, lay.Path, map[string]string{"env/GEM_PATH.override": "/an/older/build"})
	if err := relocateRuby(lay, "3.1"); err != nil {
		t.Fatal(err)
	}
	if err := writeGemPath(lay, "3.1"); err != nil {
		t.Fatal(err)
	}
	read := func(rel string) string {
		b, err := os.ReadFile(filepath.Join(lay.Path, rel))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	ruby := filepath.Join(lay.Path, "usr/bin/ruby3.1")
	if got := read("usr/bin/bundle"); got != "#!"+ruby+"\nload 'x'\n" {
		t.Errorf("bundle: %q", got)
	}
	if got := read("usr/bin/erb3.1"); got != "#!"+ruby+" -w\n" {
		t.Errorf("erb: %q", got)
	}
	if got := read("usr/bin/other"); got != "#!/bin/sh\n" {
		t.Errorf("other: %q", got)
	}
	usr := filepath.Join(lay.Path, "usr")
	wantLib := usr + "/lib/ruby/vendor_ruby:" + usr + "/lib/ruby/3.1.0:" + usr + "/lib/x86_64-linux-gnu/ruby/3.1.0"
	if got := read("env/RUBYLIB.prepend"); got != wantLib {
		t.Errorf("RUBYLIB %q, want %q", got, wantLib)
	}
	if got := read("env/GEM_PATH.append"); got != usr+"/lib/ruby/gems/3.1.0:"+usr+"/share/rubygems-integration/all" {
		t.Errorf("GEM_PATH %q", got)
	}
	if _, err := os.Stat(filepath.Join(lay.Path, "env/GEM_PATH.override")); err == nil {
		t.Error("GEM_PATH.override left in place: it would hide the bundler layer's GEM_PATH")
	}
	if got := read("usr/lib/ruby/vendor_ruby/rubygems/defaults/operating_system.rb"); !strings.HasPrefix(got, "class << Gem\nend\n") || !strings.Contains(got, "slipway_prefix = %q("+lay.Path+")") {
		t.Errorf("operating_system.rb:\n%s", got)
	}
}

func TestBundlerSettings(t *testing.T) {
	platform := t.TempDir()
	write(t, platform, map[string]string{
		"bindings/mirror/type":                     "bundler",
		"bindings/mirror/config":                   "---\nBUNDLE_MIRROR__HTTPS://RUBYGEMS__ORG/: \"http://127.0.0.1:9/\"\n",
		"bindings/creds/type":                      "bundler",
		"bindings/creds/BUNDLE_GEMS__EXAMPLE__COM": "user:secret\n",
		"bindings/other/type":                      "composer",
	})
	home := t.TempDir()
	bc := sdk.BuildContext{PlatformDir: platform, Env: sdk.Environ{"BUNDLE_MIRROR__ALL": "http://m.example/"}, Log: sdk.NewLogger(nil)}
	env, mirrors, values, err := bundlerSettings(bc, home)
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(env, "\n")
	for _, w := range []string{"BUNDLE_USER_CONFIG=" + filepath.Join(home, "config"), "BUNDLE_GEMS__EXAMPLE__COM=user:secret"} {
		if !strings.Contains(joined, w) {
			t.Errorf("env %q lacks %q", joined, w)
		}
	}
	if got := strings.Join(mirrors, "; "); got != "https://rubygems.org/ → http://127.0.0.1:9/; every source → http://m.example/" {
		t.Errorf("mirrors %q", got)
	}
	for k, v := range map[string]string{"BUNDLE_MIRROR__HTTPS://RUBYGEMS__ORG/": "http://127.0.0.1:9/", "BUNDLE_GEMS__EXAMPLE__COM": "user:secret", "BUNDLE_MIRROR__ALL": "http://m.example/"} {
		if values[k] != v {
			t.Errorf("setting %s = %q, want %q", k, values[k], v)
		}
	}
}

func TestMakeRailsWritable(t *testing.T) {
	app := t.TempDir()
	// tmp/ as assets:precompile leaves it: created by the build user with its umask.
	if err := os.MkdirAll(filepath.Join(app, "tmp", "cache", "assets"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := makeRailsWritable(app); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"tmp", "tmp/cache", "tmp/pids", "tmp/sockets", "log"} {
		fi, err := os.Stat(filepath.Join(app, d))
		if err != nil || !fi.IsDir() || fi.Mode().Perm()&0o070 != 0o070 {
			t.Errorf("%s: %v, %v; want a group-writable directory", d, fi, err)
		}
	}
}
