package webserver

import (
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

var (
	templateRE = regexp.MustCompile(`\{\{\s*(.*?)\s*\}\}`)
	moduleRE   = regexp.MustCompile(`^module\s+"([A-Za-z0-9_]+)"$`)
	envRE      = regexp.MustCompile(`^env\s+"([A-Za-z_][A-Za-z0-9_]*)"$`)
	httpRE     = regexp.MustCompile(`(?m)^[ \t]*http\s*\{`)
	daemonOnRE = regexp.MustCompile(`(?m)^[ \t]*daemon\s+on\s*;`)
)

// userNginx is the app's nginx.conf made ready to run from the layers.
type userNginx struct {
	// Template is the configuration with {{module}} resolved and the runtime paths it
	// lacked added; {{port}} and {{env}} are left for the start script.
	Template string
	// Packages are the Debian packages of the {{module}} names.
	Packages []string
	// Env are the names {{env "NAME"}} reads.
	Env []string
	// Added are the directives added, for the log.
	Added []string
	// Port is false when the configuration never uses {{port}}.
	Port bool
}

// directive reports whether conf sets name anywhere (a line starting with it).
func directive(conf, name string) bool {
	return regexp.MustCompile(`(?m)^[ \t]*` + regexp.QuoteMeta(name) + `\b`).MatchString(conf)
}

// prepareNginx reads the app's nginx.conf (name, for messages) for running unprivileged
// from the layers: {{module "NAME"}} becomes a load_module of the module's Debian
// package, and the main and http contexts get the pid file, foreground mode, temp paths
// and access log the configuration does not set itself (Debian's compiled-in defaults are
// under /var and /run, which the app's user cannot write).
func prepareNginx(name, src, nginxLayer string) (*userNginx, error) {
	u := &userNginx{}
	var bad error
	lines := strings.Split(src, "\n")
	for i, line := range lines {
		lines[i] = templateRE.ReplaceAllStringFunc(line, func(m string) string {
			inner := templateRE.FindStringSubmatch(m)[1]
			switch {
			case inner == "port":
				u.Port = true
				return m
			case envRE.MatchString(inner):
				u.Env = appendOnce(u.Env, envRE.FindStringSubmatch(inner)[1])
				return m
			case moduleRE.MatchString(inner):
				mod := moduleRE.FindStringSubmatch(inner)[1]
				pkg, ok := modulePackage(mod)
				if !ok && bad == nil {
					bad = fmt.Errorf("%s line %d: %s: a module name is ngx_<name>_module (e.g. ngx_stream_module)", name, i+1, m)
				}
				u.Packages = appendOnce(u.Packages, pkg)
				return fmt.Sprintf("load_module %s;", filepath.Join(nginxLayer, "usr", "lib", "nginx", "modules", mod+".so"))
			}
			if bad == nil {
				bad = fmt.Errorf(`%s line %d: unknown template %s; slipway/web-server fills in {{port}}, {{env "NAME"}} and {{module "NAME"}}`, name, i+1, m)
			}
			return m
		})
	}
	if bad != nil {
		return nil, bad
	}
	conf := strings.Join(lines, "\n")
	if daemonOnRE.MatchString(conf) {
		return nil, fmt.Errorf("%s sets `daemon on`: nginx must stay in the foreground as the container's process; remove the line", name)
	}
	var top []string
	for _, d := range []struct{ name, line string }{
		{"pid", "pid @RUN@/nginx.pid;"},
		{"daemon", "daemon off;"},
	} {
		if !directive(conf, d.name) {
			top = append(top, d.line)
			u.Added = append(u.Added, d.line)
		}
	}
	var inHTTP []string
	for _, d := range []struct{ name, line string }{
		{"access_log", "access_log /dev/stdout;"},
		{"client_body_temp_path", "client_body_temp_path @RUN@/client_body;"},
		{"proxy_temp_path", "proxy_temp_path @RUN@/proxy;"},
		{"fastcgi_temp_path", "fastcgi_temp_path @RUN@/fastcgi;"},
		{"uwsgi_temp_path", "uwsgi_temp_path @RUN@/uwsgi;"},
		{"scgi_temp_path", "scgi_temp_path @RUN@/scgi;"},
	} {
		if !directive(conf, d.name) {
			inHTTP = append(inHTTP, d.line)
			u.Added = append(u.Added, d.line)
		}
	}
	if loc := httpRE.FindStringIndex(conf); loc != nil && len(inHTTP) > 0 {
		conf = conf[:loc[1]] + "\n    # Added by slipway/web-server (the configuration does not set them).\n    " +
			strings.Join(inHTTP, "\n    ") + "\n" + conf[loc[1]:]
	}
	if len(top) > 0 {
		conf = "# Added by slipway/web-server (the configuration does not set them).\n" + strings.Join(top, "\n") + "\n" + conf
	}
	u.Template = conf
	sort.Strings(u.Packages)
	return u, nil
}

// modulePackage is the Debian package of a dynamic nginx module: ngx_http_image_filter_module
// is in libnginx-mod-http-image-filter.
func modulePackage(module string) (string, bool) {
	m, ok := strings.CutPrefix(module, "ngx_")
	if !ok {
		return "", false
	}
	if m, ok = strings.CutSuffix(m, "_module"); !ok || m == "" {
		return "", false
	}
	return "libnginx-mod-" + strings.ReplaceAll(m, "_", "-"), true
}

func appendOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// renderTemplate fills in a configuration as the start script does at launch (see
// startScript's render), for checking it at build.
func renderTemplate(s, port, run, htpasswd string, getenv func(string) string) string {
	s = strings.NewReplacer("@PORT@", port, "@RUN@", run, "@HTPASSWD@", htpasswd).Replace(s)
	return templateRE.ReplaceAllStringFunc(s, func(m string) string {
		inner := templateRE.FindStringSubmatch(m)[1]
		if inner == "port" {
			return port
		}
		if e := envRE.FindStringSubmatch(inner); e != nil {
			return getenv(e[1])
		}
		return m
	})
}

// builtinHTTPD are the modules compiled into Debian's apache2 (`apache2 -l`): a
// LoadModule of one is an error there ("module log_config_module is built-in and can't be
// loaded"), while configurations written for a modular httpd, as Paketo's samples are,
// load them.
var builtinHTTPD = map[string]bool{"core_module": true, "so_module": true, "watchdog_module": true, "http_module": true,
	"log_config_module": true, "logio_module": true, "version_module": true, "unixd_module": true}

var loadModuleRE = regexp.MustCompile(`(?mi)^([ \t]*)LoadModule[ \t]+([A-Za-z0-9_]+)[ \t].*$`)

// prepareHTTPD comments out the app's httpd.conf LoadModule lines of modules Debian's
// apache2 has built in; it returns the configuration and those modules.
func prepareHTTPD(src string) (string, []string) {
	var builtin []string
	out := loadModuleRE.ReplaceAllStringFunc(src, func(line string) string {
		m := loadModuleRE.FindStringSubmatch(line)
		if !builtinHTTPD[m[2]] {
			return line
		}
		builtin = append(builtin, m[2])
		return m[1] + "# built into Debian's apache2 (slipway/web-server): " + line[len(m[1]):]
	})
	return out, builtin
}

var errorLineRE = regexp.MustCompile(`:(\d+)\s*$`)

// envLines are the 1-based lines of tmpl that read one of names with {{env "NAME"}}.
func envLines(tmpl string, names []string) map[int]bool {
	out := map[int]bool{}
	for i, line := range strings.Split(tmpl, "\n") {
		for _, m := range templateRE.FindAllStringSubmatch(line, -1) {
			if e := envRE.FindStringSubmatch(m[1]); e != nil {
				for _, n := range names {
					if e[1] == n {
						out[i+1] = true
					}
				}
			}
		}
	}
	return out
}

// failedOnLines reports whether nginx's -t output blames a line of file in lines
// ("… in /path/nginx.conf:19").
func failedOnLines(out, file string, lines map[int]bool) bool {
	for _, l := range strings.Split(out, "\n") {
		i := strings.Index(l, file+":")
		if i < 0 {
			continue
		}
		if m := errorLineRE.FindStringSubmatch(l[i:]); m != nil {
			n := 0
			fmt.Sscan(m[1], &n)
			if lines[n] {
				return true
			}
		}
	}
	return false
}
