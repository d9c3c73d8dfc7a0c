package ruby

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/slipway/slipway/internal/gemsource"
)

func TestLockedSource(t *testing.T) {
	rubygems := &Lockfile{Remotes: []string{"https://rubygems.org/"}}
	private := &Lockfile{Remotes: []string{"https://gems.example.com"}}
	cases := []struct {
		name     string
		lock     *Lockfile
		settings map[string]string
		url      string
		auth     string
		describe string
	}{
		{"the lockfile's source", rubygems, nil, "https://rubygems.org/", "", "https://rubygems.org/"},
		{"no lockfile: rubygems.org", nil, nil, "https://rubygems.org/", "", "https://rubygems.org/"},
		{"a mirror of that source", rubygems, map[string]string{"BUNDLE_MIRROR__HTTPS://RUBYGEMS__ORG/": "http://127.0.0.1:9"},
			"http://127.0.0.1:9/", "", "https://rubygems.org/ (mirror http://127.0.0.1:9/)"},
		{"the source's mirror before mirror.all", rubygems, map[string]string{"BUNDLE_MIRROR__ALL": "http://all/", "BUNDLE_MIRROR__HTTPS://RUBYGEMS__ORG/": "http://one/"},
			"http://one/", "", "https://rubygems.org/ (mirror http://one/)"},
		{"mirror.all", private, map[string]string{"BUNDLE_MIRROR__ALL": "http://all/"}, "http://all/", "", "https://gems.example.com/ (mirror http://all/)"},
		{"credentials by host", private, map[string]string{"BUNDLE_GEMS__EXAMPLE__COM": "u:p"}, "https://gems.example.com/", "u:p", "https://gems.example.com/"},
		{"credentials in the mirror URL stay out of messages", rubygems, map[string]string{"BUNDLE_MIRROR__ALL": "https://u:secret@m.example/"},
			"https://m.example/", "u:secret", "https://rubygems.org/ (mirror https://m.example/)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := lockedSource(c.lock, c.settings)
			if s.URL != c.url || s.auth != c.auth || s.Describe() != c.describe {
				t.Errorf("got URL %q auth %q describe %q; want %q %q %q", s.URL, s.auth, s.Describe(), c.url, c.auth, c.describe)
			}
		})
	}
}

// fetchBundler reads the compact index of a real gem source for the version's checksum
// and downloads the .gem checked against it; a version the source lacks is an error
// naming it, the source and what the source has.
func TestFetchBundler(t *testing.T) {
	bundler := func(v string) gemsource.Gem {
		return gemsource.Gem{Name: "bundler", Version: v, BinDir: "exe", Executables: []string{"bundle"},
			Files: map[string]string{"lib/bundler/version.rb": "module Bundler\n  VERSION = \"" + v + "\".freeze\nend\n", "exe/bundle": "#!/usr/bin/env ruby\n"}}
	}
	src := gemsource.Start(t, bundler("2.3.15"), bundler("2.4.22"))
	gs := gemSource{Remote: "https://rubygems.org/", URL: src.URL + "/"}

	file, err := fetchBundler(t.Context(), nil, gs, "2.4.22", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	want, err := gemsource.Build(bundler("2.4.22"))
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != sha256.Sum256(want) {
		t.Error("the downloaded .gem is not the source's bundler 2.4.22")
	}

	_, err = fetchBundler(t.Context(), nil, gs, "2.5.1", t.TempDir())
	var ve *BundlerVersionError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want a BundlerVersionError", err)
	}
	for _, w := range []string{"BUNDLED WITH 2.5.1", "https://rubygems.org/ (mirror " + src.URL + "/) has no bundler 2.5.1", "it has bundler 2.3.15, 2.4.22", "bundle update --bundler"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}

	t.Run("a source with no bundler gem", func(t *testing.T) {
		empty := gemsource.Start(t)
		_, err := fetchBundler(t.Context(), nil, gemSource{Remote: empty.URL + "/", URL: empty.URL + "/"}, "2.4.22", t.TempDir())
		if !errors.As(err, &ve) || !strings.Contains(err.Error(), "it has no bundler gem at all") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("a .gem that does not match the index is refused", func(t *testing.T) {
		good, _ := gemsource.Build(bundler("2.4.22"))
		sum := sha256.Sum256(good)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/info/bundler":
				w.Write([]byte("---\n2.4.22 |checksum:" + hex.EncodeToString(sum[:]) + "\n"))
			case "/gems/bundler-2.4.22.gem":
				w.Write([]byte("not the gem"))
			default:
				http.NotFound(w, r)
			}
		}))
		defer srv.Close()
		dir := t.TempDir()
		_, err := fetchBundler(t.Context(), nil, gemSource{Remote: srv.URL + "/", URL: srv.URL + "/"}, "2.4.22", dir)
		if err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
			t.Fatalf("err = %v", err)
		}
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			t.Errorf("an unverified download was left: %v", left)
		}
	})

	t.Run("credentials are sent as basic auth", func(t *testing.T) {
		var user, pass string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			user, pass, _ = r.BasicAuth()
			http.NotFound(w, r)
		}))
		defer srv.Close()
		_, err := fetchBundler(t.Context(), nil, gemSource{Remote: srv.URL + "/", URL: srv.URL + "/", auth: "u:secret"}, "2.4.22", t.TempDir())
		if user != "u" || pass != "secret" {
			t.Errorf("basic auth %q:%q", user, pass)
		}
		if err == nil || strings.Contains(err.Error(), "secret") {
			t.Errorf("err = %v (want an error without the password)", err)
		}
	})
}
