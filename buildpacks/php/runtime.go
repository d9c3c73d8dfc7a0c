package php

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
	"github.com/slipway/slipway/debian"
)

// maintainerOnly are dependencies of Debian's PHP, nginx and Apache packages that only
// their maintainer scripts, init scripts or cron jobs use — none of which run here — so
// they are taken as installed instead of adding Perl, systemd or procps to the image.
var maintainerOnly = []string{"ucf", "debconf", "perl-base", "perl", "psmisc", "procps", "systemd", "init-system-helpers", "iproute2"}

// runtime installs PHP from the Debian packages of the stack's apt sources (and any
// extra source of BP_PHP_APT_SOURCE).
type runtime struct {
	apt *sdk.Apt
	lay *sdk.Layer
	log *sdk.Logger
	// offered is what Versions found, kept in the php layer so a rebuild does not read
	// the indexes to list them.
	offered sdk.Releases
}

// Versions lists the PHP versions the repositories offer (a phpX.Y-cli package each).
func (r *runtime) Versions(ctx context.Context) ([]Version, error) {
	rel, err := r.apt.Releases(ctx, r.lay, func(major, minor int) string { return fmt.Sprintf("php%d.%d-cli", major, minor) }, 5, 7, 8, 9)
	r.offered = rel
	return rel.Versions, err
}

// VersionError says no repository has a PHP the constraint allows, listing what they have.
type VersionError struct {
	Constraint Constraint
	Offered    []Version
}

func (e *VersionError) Error() string {
	var vs []string
	for _, v := range e.Offered {
		vs = append(vs, fmt.Sprintf("%s (php%s-cli)", v, v.Minor()))
	}
	offer := "no PHP at all"
	if len(vs) > 0 {
		offer = strings.Join(vs, ", ")
	}
	return fmt.Sprintf("no PHP matches %q (%s); the apt repositories offer %s. Change the constraint, or add an apt repository with more PHP versions with BP_PHP_APT_SOURCE (a signed one-line deb entry)", e.Constraint.Text, e.Constraint.Source, offer)
}

// ExtensionError says an extension the app requires has no Debian package.
type ExtensionError struct {
	Ext      ExtRequirement
	Package  string // the package name searched (and the virtual name providers carry)
	Searched string // the repositories, as the apt error lists them
}

func (e *ExtensionError) Error() string {
	return fmt.Sprintf("%s requires ext-%s, but no Debian package %s (nor one providing it) is in the repositories searched: %s. Remove the requirement, or add a repository that has it with BP_PHP_APT_SOURCE", e.Ext.From, e.Ext.Name, e.Package, e.Searched)
}

// builtin are the extensions compiled into Debian's php binary: they need no package.
var builtin = map[string]bool{"core": true, "date": true, "filter": true, "hash": true, "json": true, "libxml": true,
	"openssl": true, "pcntl": true, "pcre": true, "random": true, "reflection": true, "session": true,
	"sodium": true, "spl": true, "standard": true, "zlib": true, "mhash": true}

// moduleName is the name `php -m` shows in lower case, from a Composer ext-* name.
func moduleName(ext string) string {
	switch ext = strings.ToLower(ext); ext {
	case "zend-opcache", "zend opcache", "zendopcache":
		return "opcache"
	}
	return ext
}

// extPackage is the Debian package (or the virtual package its real one provides) of
// an extension: php8.2-mbstring, php8.2-pdo-mysql (provided by php8.2-mysql).
func extPackage(minor, ext string) string {
	return "php" + minor + "-" + strings.ReplaceAll(moduleName(ext), "_", "-")
}

// Install puts PHP v, php-fpm when fpm, and the packages of exts into the php layer,
// with the php.ini the buildpack writes, and returns the php binary. reused is true
// when the layer was left as it was.
func (r *runtime) Install(ctx context.Context, v Version, exts []ExtRequirement, fpm bool, ini iniSettings) (string, bool, error) {
	minor := v.Minor()
	pkgs := []string{"php" + minor + "-cli"}
	if fpm {
		pkgs = append(pkgs, "php"+minor+"-fpm")
	}
	byPkg := map[string]ExtRequirement{}
	for _, e := range exts {
		if builtin[moduleName(e.Name)] {
			continue
		}
		p := extPackage(minor, e.Name)
		if _, dup := byPkg[p]; !dup {
			byPkg[p] = e
			pkgs = append(pkgs, p)
		}
	}
	res, err := r.apt.Install(ctx, r.lay, sdk.AptRequest{Packages: pkgs, Launch: true, Build: true, Cache: true, Satisfied: maintainerOnly})
	if err != nil {
		var nf *sdk.AptNotFoundError
		if errors.As(err, &nf) {
			if e, ok := byPkg[nf.Package]; ok && nf.Chain == "" {
				return "", false, &ExtensionError{Ext: e, Package: nf.Package, Searched: searched(nf.Searched)}
			}
		}
		return "", false, err
	}
	bin := filepath.Join(r.lay.Path, "usr", "bin")
	php := filepath.Join(bin, "php"+minor)
	if !res.Reused {
		// The links Debian's update-alternatives would have made.
		links := map[string]string{filepath.Join(bin, "php"): "php" + minor}
		if fpm {
			links[filepath.Join(r.lay.Path, "usr", "sbin", "php-fpm")] = "php-fpm" + minor
		}
		for link, target := range links {
			if err := os.Symlink(target, link); err != nil && !os.IsExist(err) {
				return "", false, fmt.Errorf("link %s: %w", link, err)
			}
		}
		for name, value := range map[string]string{"PHPRC": iniFile(r.lay.Path), "PHP_INI_SCAN_DIR": ini.ScanDir(r.lay.Path)} {
			if err := r.lay.SharedEnv().Override(name, value); err != nil {
				return "", false, err
			}
		}
	}
	if err := writeINI(r.lay.Path, minor, ini); err != nil {
		return "", false, err
	}
	return php, res.Reused, nil
}

func searched(srcs []debian.Source) string {
	var s []string
	for _, src := range srcs {
		s = append(s, fmt.Sprintf("%s %s %s", src.URL, src.Suite, strings.Join(src.Components, " ")))
	}
	return strings.Join(s, "; ")
}

// env is the environment that runs the layer's PHP at build: its binaries first on
// PATH, its libraries, its php.ini.
func (r *runtime) env(base sdk.Environ, ini iniSettings) []string {
	var libs []string
	if m, _ := filepath.Glob(filepath.Join(r.lay.Path, "usr/lib/*-linux-gnu")); len(m) > 0 {
		libs = m
	}
	return base.List(
		"PATH="+filepath.Join(r.lay.Path, "usr/bin")+":"+filepath.Join(r.lay.Path, "usr/sbin")+":"+base.Get("PATH"),
		"LD_LIBRARY_PATH="+strings.Trim(strings.Join(libs, ":")+":"+base.Get("LD_LIBRARY_PATH"), ":"),
		"PHPRC="+iniFile(r.lay.Path),
		"PHP_INI_SCAN_DIR="+ini.ScanDir(r.lay.Path),
	)
}

// modules lists the modules the layer's PHP loads, in lower case (`php -m`).
func modules(ctx context.Context, php string, env []string) (map[string]bool, error) {
	cmd := exec.CommandContext(ctx, php, "-m")
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("run %s -m: %w\n%s", php, err, stderr.String())
	}
	got := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "[") {
			continue
		}
		got[moduleName(line)] = true
	}
	if s := strings.TrimSpace(stderr.String()); s != "" {
		// PHP reports a module it cannot load on stderr and goes on.
		return got, fmt.Errorf("PHP reports problems loading its modules: %s", s)
	}
	return got, nil
}

// missing is the required extensions PHP does not load, sorted.
func missing(exts []ExtRequirement, loaded map[string]bool) []ExtRequirement {
	var out []ExtRequirement
	for _, e := range exts {
		if !loaded[moduleName(e.Name)] {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
