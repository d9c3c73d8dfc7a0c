package webserver

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// Servers of BP_WEB_SERVER.
const (
	ServerNginx = "nginx"
	ServerHTTPD = "httpd"
)

// config is the buildpack's configuration (README.md lists each variable); the names are
// Paketo's web-servers buildpack's.
type config struct {
	Server      string // BP_WEB_SERVER, "" when unset
	Root        string // BP_WEB_SERVER_ROOT, relative to the app ("" when unset)
	PushState   bool   // BP_WEB_SERVER_ENABLE_PUSH_STATE
	ForceHTTPS  bool   // BP_WEB_SERVER_FORCE_HTTPS
	Location    string // BP_WEB_SERVER_LOCATION_PATH (nginx), "/" unless set
	NginxConf   string // BP_NGINX_CONF_LOCATION, relative to the app: "nginx.conf" unless set
	KeepFiles   []string
	ProjectPath string // BP_NODE_PROJECT_PATH: where package.json is, relative to the app
}

func readConfig(env sdk.Environ, platform, appDir string) (config, error) {
	get := func(name, def string) string { return strings.TrimSpace(env.Config(platform, name, def)) }
	c := config{Location: get("BP_WEB_SERVER_LOCATION_PATH", "/")}
	switch s := strings.ToLower(get("BP_WEB_SERVER", "")); s {
	case "", ServerNginx, ServerHTTPD:
		c.Server = s
	case "apache", "apache2":
		c.Server = ServerHTTPD
	default:
		return c, fmt.Errorf("BP_WEB_SERVER=%q: want nginx or httpd", s)
	}
	var err error
	if c.Root, err = inApp(appDir, "BP_WEB_SERVER_ROOT", get("BP_WEB_SERVER_ROOT", "")); err != nil {
		return c, err
	}
	if c.NginxConf, err = inApp(appDir, "BP_NGINX_CONF_LOCATION", get("BP_NGINX_CONF_LOCATION", "")); err != nil {
		return c, err
	}
	if c.NginxConf == "" {
		c.NginxConf = "nginx.conf"
	}
	if c.ProjectPath, err = inApp(appDir, "BP_NODE_PROJECT_PATH", get("BP_NODE_PROJECT_PATH", "")); err != nil {
		return c, err
	}
	for _, b := range []struct {
		name string
		v    *bool
	}{{"BP_WEB_SERVER_ENABLE_PUSH_STATE", &c.PushState}, {"BP_WEB_SERVER_FORCE_HTTPS", &c.ForceHTTPS}} {
		if *b.v, err = parseBool(b.name, get(b.name, "")); err != nil {
			return c, err
		}
	}
	if !strings.HasPrefix(c.Location, "/") || strings.ContainsAny(c.Location, " \t\n;{}") {
		return c, fmt.Errorf("BP_WEB_SERVER_LOCATION_PATH=%q: want a URL path starting with /, e.g. /app", c.Location)
	}
	for _, k := range strings.Split(get("BP_KEEP_FILES", ""), ":") {
		if k = strings.TrimSpace(k); k != "" {
			k = filepath.Clean(strings.TrimPrefix(k, "/workspace/"))
			if _, err := filepath.Match(k, ""); err != nil || filepath.IsAbs(k) || strings.HasPrefix(k, "..") {
				return c, fmt.Errorf("BP_KEEP_FILES: %q is not a glob relative to the app", k)
			}
			c.KeepFiles = append(c.KeepFiles, k)
		}
	}
	return c, nil
}

// inApp cleans a path setting that names something inside the app: relative to it, or
// absolute under it (the app is /workspace in the build, which Paketo's settings allow).
func inApp(appDir, name, v string) (string, error) {
	if v == "" {
		return "", nil
	}
	p := v
	for _, base := range []string{appDir, "/workspace"} {
		if r, err := filepath.Rel(base, p); err == nil && filepath.IsAbs(p) && !strings.HasPrefix(r, "..") {
			p = r
			break
		}
	}
	p = filepath.Clean(p)
	if filepath.IsAbs(p) || p == ".." || strings.HasPrefix(p, "../") {
		return "", fmt.Errorf("%s=%q: give a path inside the app, relative to it (e.g. \"dist\")", name, v)
	}
	return p, nil
}

func parseBool(name, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "", "false", "0", "no", "off":
		return false, nil
	case "true", "1", "yes", "on":
		return true, nil
	}
	return false, fmt.Errorf("%s=%q: want true or false", name, v)
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
