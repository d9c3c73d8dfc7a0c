package stack

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/slipway/slipway/tomlfile"
)

// Definition is a stack.toml: where the packages come from and what goes into the
// build and run images of a stack (a base image pair, platform.md, Build Image). Only the
// packages listed (and their Pre-Depends/Depends) are installed: Essential and
// Priority: required packages are not added implicitly, so list them when wanted.
type Definition struct {
	// ID becomes the legacy io.buildpacks.stack.id label.
	ID         string `toml:"id"`
	Maintainer string `toml:"maintainer"`
	Homepage   string `toml:"homepage"`
	// Architecture is the dpkg architecture (amd64, arm64, …); empty means the host's.
	Architecture string         `toml:"architecture"`
	Sources      []SourceConfig `toml:"sources"`
	// CACertificates are extra PEM certificates (paths, relative to stack.toml) trusted in
	// both images, as update-ca-certificates trusts /usr/local/share/ca-certificates: a
	// TLS-inspecting proxy or a private registry's CA, so buildpacks' downloads work.
	CACertificates []string    `toml:"ca-certificates"`
	User           UserConfig  `toml:"user"`
	Build          ImageConfig `toml:"build"`
	Run            ImageConfig `toml:"run"`

	// File is where the definition was read from; relative keyring paths are relative
	// to its directory.
	File string `toml:"-"`
}

// SourceConfig is one apt repository, like a sources.list "deb [signed-by=…]" line.
type SourceConfig struct {
	URL        string   `toml:"url"`
	Suite      string   `toml:"suite"`
	Components []string `toml:"components"`
	// Keyring is the OpenPGP keyring (binary .gpg or armoured .asc) that must have
	// signed the suite's InRelease.
	Keyring string `toml:"keyring"`
}

// UserConfig is the CNB user. The run image should use another UID than the build
// image (platform.md, Build Image), so that what buildpacks write stays readable by others.
type UserConfig struct {
	Name     string `toml:"name"`
	BuildUID int    `toml:"build-uid"`
	BuildGID int    `toml:"build-gid"`
	RunUID   int    `toml:"run-uid"`
	RunGID   int    `toml:"run-gid"`
}

// ImageConfig is one of the two images.
type ImageConfig struct {
	// Image is the name written to the local store, or pushed with --publish.
	Image    string   `toml:"image"`
	Packages []string `toml:"packages"`
	// Env entries (NAME=value) added to the image config after PATH.
	Env []string `toml:"env"`
}

// ReadDefinition reads and validates a stack.toml. Errors name the file and, for
// syntax errors, the line and column.
func ReadDefinition(path string) (*Definition, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read stack config %s: %w", path, err)
	}
	return ParseDefinition(data, path)
}

// ParseDefinition parses stack.toml content; file names it in errors and anchors
// relative keyring paths.
func ParseDefinition(data []byte, file string) (*Definition, error) {
	d := &Definition{File: file}
	md, err := tomlfile.Decode(data, file, d)
	if err != nil {
		return nil, err
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("parse stack config %s: unknown key %s; check the spelling", file, strings.Join(keys, ", "))
	}
	if d.Architecture == "" {
		d.Architecture = hostArch()
	}
	if d.User.Name == "" {
		d.User.Name = "cnb"
	}
	if err := d.validate(); err != nil {
		return nil, fmt.Errorf("stack config %s: %w", file, err)
	}
	return d, nil
}

func (d *Definition) validate() error {
	if len(d.Sources) == 0 {
		return fmt.Errorf("no [[sources]]; name at least one apt repository")
	}
	for i, s := range d.Sources {
		switch {
		case s.URL == "":
			return fmt.Errorf("[[sources]] #%d: url is required", i+1)
		case !strings.HasPrefix(s.URL, "http://") && !strings.HasPrefix(s.URL, "https://"):
			return fmt.Errorf("[[sources]] #%d: url %q must be http:// or https:// (InRelease signatures protect plain http)", i+1, s.URL)
		case s.Suite == "":
			return fmt.Errorf("[[sources]] #%d: suite is required (e.g. \"bookworm\")", i+1)
		case len(s.Components) == 0:
			return fmt.Errorf("[[sources]] #%d: components is required (e.g. [\"main\"])", i+1)
		case s.Keyring == "":
			return fmt.Errorf("[[sources]] #%d: keyring is required: unsigned repositories are refused", i+1)
		}
	}
	for _, c := range d.CACertificates {
		data, err := os.ReadFile(d.path(c))
		if err != nil {
			return fmt.Errorf("ca-certificates: %w", err)
		}
		if !strings.Contains(string(data), "-----BEGIN CERTIFICATE-----") {
			return fmt.Errorf("ca-certificates: %s is not a PEM certificate (want -----BEGIN CERTIFICATE-----)", d.path(c))
		}
	}
	if _, ok := goArch[d.Architecture]; !ok {
		return fmt.Errorf("architecture %q is not supported; use one of amd64, arm64, armhf, i386, ppc64el, s390x, riscv64", d.Architecture)
	}
	for _, img := range []struct {
		key string
		c   ImageConfig
	}{{"build", d.Build}, {"run", d.Run}} {
		if img.c.Image == "" {
			return fmt.Errorf("[%s] image is required", img.key)
		}
		if len(img.c.Packages) == 0 {
			return fmt.Errorf("[%s] packages is empty", img.key)
		}
		for _, e := range img.c.Env {
			if !strings.Contains(e, "=") {
				return fmt.Errorf("[%s] env %q: want NAME=value", img.key, e)
			}
		}
	}
	u := d.User
	if u.BuildUID <= 0 || u.BuildGID <= 0 || u.RunUID <= 0 || u.RunGID <= 0 {
		return fmt.Errorf("[user] build-uid, build-gid, run-uid and run-gid must be set and not 0: the CNB user is not root (platform.md, Build Image)")
	}
	return nil
}

// KeyringPath resolves a source's keyring against the definition's directory.
func (d *Definition) KeyringPath(s SourceConfig) string {
	return d.path(s.Keyring)
}

// path resolves a path from stack.toml relative to the file's directory.
func (d *Definition) path(p string) string {
	if filepath.IsAbs(p) || d.File == "" {
		return p
	}
	return filepath.Join(filepath.Dir(d.File), p)
}

// goArch maps dpkg architecture names to OCI (GOARCH) ones and variants.
var goArch = map[string][2]string{
	"amd64":   {"amd64", ""},
	"arm64":   {"arm64", "v8"},
	"armhf":   {"arm", "v7"},
	"i386":    {"386", ""},
	"ppc64el": {"ppc64le", ""},
	"s390x":   {"s390x", ""},
	"riscv64": {"riscv64", ""},
}

func hostArch() string {
	for deb, oci := range goArch {
		if oci[0] == runtime.GOARCH {
			return deb
		}
	}
	return runtime.GOARCH
}
