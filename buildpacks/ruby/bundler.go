package ruby

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// layerBundler holds the Bundler Gemfile.lock's BUNDLED WITH names when it is not the
// one Debian's ruby-bundler package installs into the ruby layer: launch, build, cache.
const layerBundler = "bundler"

// defaultRemote is the gem source Bundler falls back to.
const defaultRemote = "https://rubygems.org/"

// gemSource is where the buildpack fetches a gem the way Bundler would: the lockfile's
// source, through the mirror Bundler's settings give it, with its credentials.
type gemSource struct {
	Remote string // the source as the lockfile names it
	URL    string // what is fetched: the mirror when one applies, else Remote
	auth   string // "user:password" from Bundler's credential settings, or ""
}

// Describe is the source for messages, without credentials.
func (s gemSource) Describe() string {
	if s.URL == s.Remote {
		return s.Remote
	}
	return s.Remote + " (mirror " + s.URL + ")"
}

// settingKey is the BUNDLE_* variable of a Bundler setting (bundler.io/man/bundle-config.1.html,
// "Configuration keys"): dots become "__", dashes "___", all upper case.
func settingKey(key string) string {
	key = strings.ReplaceAll(key, ".", "__")
	key = strings.ReplaceAll(key, "-", "___")
	return "BUNDLE_" + strings.ToUpper(key)
}

// withSlash is a source URL as Bundler normalises it (a trailing slash).
func withSlash(u string) string {
	if strings.HasSuffix(u, "/") {
		return u
	}
	return u + "/"
}

// lockedSource is the gem source of the lockfile's first GEM remote (rubygems.org when it
// names none) after Bundler's mirror settings (mirror.<url> before mirror.all;
// bundler.io/man/bundle-config.1.html, "Mirrors of gem sources") and with its credentials
// (<host> or <url>; "Credentials for gem sources").
func lockedSource(lock *Lockfile, settings map[string]string) gemSource {
	remote := defaultRemote
	if lock != nil && len(lock.Remotes) > 0 {
		remote = lock.Remotes[0]
	}
	remote = withSlash(remote)
	s := gemSource{Remote: remote, URL: remote}
	for _, key := range []string{settingKey("mirror." + remote), "BUNDLE_MIRROR__ALL"} {
		if m := strings.TrimSpace(settings[key]); m != "" {
			s.URL = withSlash(m)
			break
		}
	}
	for _, u := range []string{s.URL, s.Remote} {
		p, err := url.Parse(u)
		if err != nil {
			continue
		}
		if p.User != nil {
			s.auth = p.User.String()
			p.User = nil
			s.URL = p.String()
			break
		}
		if a := settings[settingKey(u)]; a != "" {
			s.auth = a
			break
		}
		if a := settings[settingKey(p.Hostname())]; a != "" {
			s.auth = a
			break
		}
	}
	return s
}

// BundlerVersionError says the gem source has no Bundler of the version Gemfile.lock
// names.
type BundlerVersionError struct {
	Version string
	Source  gemSource
	Offered []string // the versions the source has
}

func (e *BundlerVersionError) Error() string {
	has := "no bundler gem at all"
	if len(e.Offered) > 0 {
		has = "bundler " + strings.Join(e.Offered, ", ")
	}
	return fmt.Sprintf("Gemfile.lock is BUNDLED WITH %s, but the gem source %s has no bundler %s (it has %s). Lock a Bundler the source has (bundle update --bundler=VERSION), or serve bundler %s from the source",
		e.Version, e.Source.Describe(), e.Version, has, e.Version)
}

// fetchBundler downloads bundler-version.gem from src into dir, checked against the
// SHA-256 the source's compact index lists for it (guides.rubygems.org/rubygems-org-compact-index-api,
// /info/NAME), and returns the file. A source without a compact index gives the .gem
// unchecked here; `gem install` still verifies the checksums inside the .gem.
func fetchBundler(ctx context.Context, client *http.Client, src gemSource, version, dir string) (string, error) {
	f := &sdk.Fetcher{Client: client}
	if src.auth != "" {
		f.Header = http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(src.auth))}}
	}
	info := src.URL + "info/bundler"
	body, err := f.Get(ctx, info, nil)
	var sum string
	switch {
	case err == nil:
		offered, sums, err := readInfo(body)
		body.Close()
		if err != nil {
			return "", fmt.Errorf("read %s: %w", info, err)
		}
		if sum = sums[version]; sum == "" {
			return "", &BundlerVersionError{Version: version, Source: src, Offered: offered}
		}
	case strings.Contains(err.Error(), "HTTP 404"):
		// Either no bundler gem, or no compact index: the .gem itself answers which.
	default:
		return "", fmt.Errorf("list the bundler versions of %s: %w", src.Describe(), err)
	}
	gem := src.URL + "gems/bundler-" + version + ".gem"
	if sum == "" {
		body, err := f.Get(ctx, gem, nil)
		if err != nil {
			if strings.Contains(err.Error(), "HTTP 404") {
				return "", &BundlerVersionError{Version: version, Source: src}
			}
			return "", fmt.Errorf("download bundler %s from %s: %w", version, src.Describe(), err)
		}
		defer body.Close()
		return saveTo(body, dir, "bundler-"+version+".gem")
	}
	want, err := sdk.SHA256Hex(sum)
	if err != nil {
		return "", fmt.Errorf("%s: bundler %s: %w", info, version, err)
	}
	return f.Download(ctx, gem, want, dir)
}

// readInfo reads a compact index /info/NAME: "---", then "VERSION[-PLATFORM] DEPS|REQS"
// where REQS holds checksum:SHA256. It returns the versions in order and their sums.
func readInfo(r io.Reader) ([]string, map[string]string, error) {
	var offered []string
	sums := map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "---" || line == "" {
			continue
		}
		ver, rest, _ := strings.Cut(line, " ")
		if strings.Contains(ver, "-") { // a platform gem; bundler has none
			continue
		}
		_, reqs, _ := strings.Cut(rest, "|")
		offered = append(offered, ver)
		for _, r := range strings.Split(reqs, ",") {
			if s, ok := strings.CutPrefix(strings.TrimSpace(r), "checksum:"); ok {
				sums[ver] = s
			}
		}
	}
	return offered, sums, sc.Err()
}

func saveTo(r io.Reader, dir, name string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, "download-*-"+name)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), f.Close()
}

// lockedBundler makes the bundler layer hold the Bundler Gemfile.lock names, installed
// with RubyGems from the gem source, and puts it on GEM_PATH at build and launch:
// RubyGems' bundle executable then activates that version (BUNDLER_VERSION says which),
// so Bundler runs as the lockfile asks and does not switch itself. The layer is reused
// while the version is the same. It returns the environment additions for the build.
func lockedBundler(ctx context.Context, bc sdk.BuildContext, gem string, env []string, version string, src gemSource) ([]string, error) {
	lay, err := bc.Layers.Get(layerBundler)
	if err != nil {
		return nil, err
	}
	log := bc.Log
	want := map[string]any{"version": version}
	if lay.MetadataMatches(want) {
		log.Step("Reusing Bundler %s layer", version)
	} else {
		tmp, err := os.MkdirTemp("", "slipway-bundler-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		file, err := fetchBundler(ctx, nil, src, version, tmp)
		if err != nil {
			return nil, err
		}
		if err := lay.Reset(); err != nil {
			return nil, err
		}
		cmd := exec.CommandContext(ctx, gem, "install", "--local", "--install-dir", lay.Path, "--bindir", filepath.Join(lay.Path, "bin"),
			"--no-document", "--ignore-dependencies", file)
		cmd.Env = env
		cmd.Dir = tmp
		cmd.Stdout, cmd.Stderr = log.Writer(), log.Writer()
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("install bundler %s from %s with gem install: %w", version, src.Describe(), err)
		}
		// The .gem and RubyGems' binstubs: Debian's bundle (in the ruby layer) runs the
		// version GEM_PATH and BUNDLER_VERSION select.
		for _, d := range []string{"cache", "bin", "doc", "build_info"} {
			if err := os.RemoveAll(filepath.Join(lay.Path, d)); err != nil {
				return nil, err
			}
		}
		log.Step("Installed Bundler %s from %s into layer %s", version, src.Describe(), layerBundler)
	}
	// The ruby layer appends its own GEM_PATH; layers apply in alphabetical order
	// (buildpack.md, Environment Variable Modification Rules), so bundler comes first.
	if err := lay.SharedEnv().Prepend("GEM_PATH", lay.Path, ":"); err != nil {
		return nil, err
	}
	if err := lay.SharedEnv().Override("BUNDLER_VERSION", version); err != nil {
		return nil, err
	}
	lay.Metadata = want
	lay.Types = sdk.LayerTypes{Launch: true, Build: true, Cache: true}
	if err := lay.Write(); err != nil {
		return nil, err
	}
	gemPath := lay.Path
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "GEM_PATH="); ok && v != "" {
			gemPath += ":" + v
		}
	}
	return []string{"GEM_PATH=" + gemPath, "BUNDLER_VERSION=" + version}, nil
}

// checkBundler runs bundle --version and fails unless it is version: the proof that the
// Bundler the lockfile names is the one that installs the gems.
func checkBundler(ctx context.Context, b *bundlerRun, version string) error {
	cmd := exec.CommandContext(ctx, b.bundle, "--version")
	cmd.Dir = b.bc.AppDir
	cmd.Env = b.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("run bundle --version with Bundler %s: %w\n%s", version, err, out)
	}
	if got := strings.TrimSpace(string(out)); !strings.HasSuffix(got, " "+version) {
		return errors.New("bundle --version says " + got + ", not the Bundler " + version + " Gemfile.lock names and the bundler layer holds")
	}
	return nil
}
