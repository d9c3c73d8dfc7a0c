package php

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// Server modes of BP_PHP_SERVER.
const (
	ServerBuiltin = "php-server" // PHP's built-in web server (php -S)
	ServerNginx   = "nginx"      // nginx in front of php-fpm
	ServerHTTPD   = "httpd"      // Apache httpd in front of php-fpm
)

// config is the buildpack's configuration (README.md lists each variable).
type config struct {
	Version        string // BP_PHP_VERSION
	Server         string // BP_PHP_SERVER
	ServerSet      bool
	WebDir         string // BP_PHP_WEB_DIR, relative to the app; "." is the app itself
	WebDirSet      bool
	InstallOptions []string // BP_COMPOSER_INSTALL_OPTIONS
	Repository     string   // BP_COMPOSER_REPOSITORY: a Composer repository instead of packagist.org
	Development    bool     // CNB_EXEC_ENV=development
}

func readConfig(env sdk.Environ, platform, appDir, execEnv string) (config, error) {
	get := func(name, def string) string { return strings.TrimSpace(env.Config(platform, name, def)) }
	c := config{
		Version:     get("BP_PHP_VERSION", ""),
		Server:      get("BP_PHP_SERVER", ""),
		WebDir:      get("BP_PHP_WEB_DIR", ""),
		Repository:  get("BP_COMPOSER_REPOSITORY", ""),
		Development: execEnv == "development",
	}
	c.ServerSet, c.WebDirSet = c.Server != "", c.WebDir != ""
	switch c.Server {
	case "":
		// Production gets a server made for it; development the one that needs nothing
		// (and shows a request log on the console).
		c.Server = ServerNginx
		if c.Development {
			c.Server = ServerBuiltin
		}
	case ServerBuiltin, ServerNginx, ServerHTTPD:
	case "apache", "apache2":
		c.Server = ServerHTTPD
	default:
		return c, fmt.Errorf("BP_PHP_SERVER=%q: want %s, %s or %s", c.Server, ServerBuiltin, ServerNginx, ServerHTTPD)
	}
	c.WebDir = webDir(appDir, c.WebDir)
	if c.WebDirSet {
		if filepath.IsAbs(c.WebDir) || strings.HasPrefix(c.WebDir, "..") {
			return c, fmt.Errorf("BP_PHP_WEB_DIR=%q: must be a directory inside the app", c.WebDir)
		}
		if fi, err := os.Stat(filepath.Join(appDir, c.WebDir)); err != nil || !fi.IsDir() {
			return c, fmt.Errorf("BP_PHP_WEB_DIR=%q: the app has no such directory", c.WebDir)
		}
	}
	opts := get("BP_COMPOSER_INSTALL_OPTIONS", "--no-dev")
	c.InstallOptions = strings.Fields(opts)
	return c, nil
}

// webDir is the document root relative to the app: the setting, else public/ when the
// app has one, else the app itself.
func webDir(appDir, set string) string {
	if set != "" {
		return filepath.Clean(set)
	}
	if fi, err := os.Stat(filepath.Join(appDir, "public")); err == nil && fi.IsDir() {
		return "public"
	}
	return "."
}
