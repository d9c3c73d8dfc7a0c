package php

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// Layer names.
const (
	layerPHP      = "php"            // PHP, php-fpm and the extensions (launch, build, cache)
	layerComposer = "composer"       // Composer, run by the php layer's PHP (build, cache)
	layerCache    = "composer-cache" // Composer's download cache (cache)
	layerVendor   = "vendor"         // the app's Composer packages (launch, cache)
	layerNginx    = "nginx"          // nginx (launch, cache)
	layerHTTPD    = "httpd"          // Apache httpd (launch, cache)
	layerConfig   = "server-config"  // start script and config templates (launch)
	layerDebs     = "debs"           // .debs and apt indexes (cache)
)

// serverSetup is what the web process needs: the php layer's php-fpm and the app's
// document root.
type serverSetup struct {
	mode   string // ServerNginx or ServerHTTPD
	fpm    string // php-fpm binary
	server string // the layer of nginx or httpd
	web    string // document root, absolute
	app    string // the app directory
}

// installServer puts nginx or Apache httpd into its layer (from the stack's Debian
// packages, without what only their maintainer scripts need).
func installServer(ctx context.Context, apt *sdk.Apt, layers sdk.Layers, mode string, log *sdk.Logger) (*sdk.Layer, error) {
	name, pkgs := layerNginx, []string{"nginx"}
	if mode == ServerHTTPD {
		name, pkgs = layerHTTPD, []string{"apache2-bin", "media-types"}
	}
	lay, err := layers.Get(name)
	if err != nil {
		return nil, err
	}
	res, err := apt.Install(ctx, lay, sdk.AptRequest{Packages: pkgs, Launch: true, Cache: true, Satisfied: maintainerOnly})
	if err != nil {
		return nil, fmt.Errorf("install %s: %w", mode, err)
	}
	if res.Reused {
		log.Step("Reusing the %s layer", mode)
	} else {
		log.Step("Installed %s into layer %s (%d Debian packages)", mode, name, len(res.Packages))
	}
	return lay, nil
}

// writeServerConfig writes the start script and the config templates into the
// server-config layer and returns the script. The templates carry the layers' paths;
// the script fills in PORT and a fresh runtime directory at launch, because nginx
// cannot read the environment and both servers need somewhere writable.
func writeServerConfig(layers sdk.Layers, s serverSetup) (string, error) {
	lay, err := layers.Get(layerConfig)
	if err != nil {
		return "", err
	}
	files := map[string]string{"php-fpm.conf": fpmConf}
	var serverCmd string
	hasIndex := exists(filepath.Join(s.web, "index.php"))
	switch s.mode {
	case ServerNginx:
		front := "=404"
		if hasIndex {
			front = "/index.php$is_args$args"
		}
		files["nginx.conf"] = replace(nginxConf, "@NGINX@", s.server, "@WEB@", s.web, "@APP@", s.app, "@FRONT@", front)
		serverCmd = fmt.Sprintf(`%q -p "$run" -e stderr -c "$run/nginx.conf"`, filepath.Join(s.server, "usr", "sbin", "nginx"))
	case ServerHTTPD:
		front := ""
		if hasIndex {
			front = "FallbackResource /index.php"
		}
		files["httpd.conf"] = replace(httpdConf, "@HTTPD@", s.server, "@WEB@", s.web, "@APP@", s.app, "@FRONT@", front)
		serverCmd = fmt.Sprintf(`%q -d "$run" -f "$run/httpd.conf" -DFOREGROUND`, filepath.Join(s.server, "usr", "sbin", "apache2"))
	default:
		return "", fmt.Errorf("no server config for %q", s.mode)
	}
	var render []string
	for name := range files {
		render = append(render, fmt.Sprintf(`render %q "$run/%s"`, filepath.Join(lay.Path, name), name))
	}
	sort.Strings(render)
	files["start"] = replace(startScript, "@SERVER_NAME@", s.mode, "@RENDER@", strings.Join(render, "\n"),
		"@FPM@", fmt.Sprintf("%q", s.fpm), "@SERVER@", serverCmd)
	if err := os.MkdirAll(lay.Path, 0o755); err != nil {
		return "", fmt.Errorf("create layer %s: %w", lay.Path, err)
	}
	ents, _ := os.ReadDir(lay.Path)
	for _, e := range ents {
		if _, ok := files[e.Name()]; !ok {
			os.RemoveAll(filepath.Join(lay.Path, e.Name()))
		}
	}
	for name, content := range files {
		if err := writeIfChanged(filepath.Join(lay.Path, name), []byte(content)); err != nil {
			return "", err
		}
	}
	start := filepath.Join(lay.Path, "start")
	if err := os.Chmod(start, 0o755); err != nil {
		return "", err
	}
	// php-fpm reads ${PHP_FPM_MAX_CHILDREN} from the environment when it parses its config.
	if err := lay.LaunchEnv().Default("PHP_FPM_MAX_CHILDREN", "5"); err != nil {
		return "", err
	}
	lay.Types = sdk.LayerTypes{Launch: true}
	lay.Metadata = map[string]any{"server": s.mode}
	if err := lay.Write(); err != nil {
		return "", err
	}
	return start, nil
}

func replace(s string, oldnew ...string) string { return strings.NewReplacer(oldnew...).Replace(s) }

// builtinProcess runs PHP's built-in web server on PORT in the document root; for a
// path that is no file it serves the nearest index.php (the front-controller pattern).
func builtinProcess(webRel string) sdk.Process {
	return sdk.Process{Type: "web", Default: true,
		Command: []string{"bash", "-c", `exec php -S "0.0.0.0:${PORT:-8080}" -t "$0"`, webRel}}
}

const startScript = `#!/bin/bash
# Written by slipway/php: php-fpm and @SERVER_NAME@ in the foreground; the container stops
# when either stops, with its exit status.
set -eu
export PORT="${PORT:-8080}"
run=$(mktemp -d "${TMPDIR:-/tmp}/slipway-php.XXXXXX")
render() { local s; s=$(<"$1"); s=${s//@PORT@/$PORT}; s=${s//@RUN@/$run}; printf '%s\n' "$s" >"$2"; }
@RENDER@
@FPM@ --nodaemonize --fpm-config "$run/php-fpm.conf" &
fpm=$!
# The server starts once php-fpm listens: Apache's proxy would otherwise mark the backend
# failed for a minute after a first request that came too early.
for _ in $(seq 100); do
  [ -S "$run/php-fpm.sock" ] || ! kill -0 "$fpm" 2>/dev/null && break
  sleep 0.05
done
@SERVER@ &
server=$!
trap 'kill -TERM "$fpm" "$server" 2>/dev/null || true' TERM INT
set +e
wait -n "$fpm" "$server"
status=$?
kill -TERM "$fpm" "$server" 2>/dev/null
wait
exit "$status"
`

const fpmConf = `; Written by slipway/php.
[global]
error_log = /proc/self/fd/2
log_limit = 8192
daemonize = no
pid = @RUN@/php-fpm.pid

[app]
listen = @RUN@/php-fpm.sock
pm = dynamic
pm.max_children = ${PHP_FPM_MAX_CHILDREN}
pm.start_servers = 1
pm.min_spare_servers = 1
pm.max_spare_servers = 3
; The app sees the container's environment (PORT, DATABASE_URL, …).
clear_env = no
catch_workers_output = yes
decorate_workers_output = no
`

const nginxConf = `# Written by slipway/php.
worker_processes auto;
error_log stderr warn;
pid @RUN@/nginx.pid;
daemon off;

events {
    worker_connections 1024;
}

http {
    include @NGINX@/etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log /dev/stdout;
    server_tokens off;
    sendfile on;
    gzip on;
    gzip_types text/css application/javascript application/json image/svg+xml text/plain text/xml;
    client_body_temp_path @RUN@/client_body;
    proxy_temp_path @RUN@/proxy;
    fastcgi_temp_path @RUN@/fastcgi;
    uwsgi_temp_path @RUN@/uwsgi;
    scgi_temp_path @RUN@/scgi;

    server {
        listen @PORT@;
        root @WEB@;
        index index.php index.html index.htm;

        # The app's own directives (rewrites, headers, locations).
        include @APP@/.nginx.d/*.conf;

        location / {
            try_files $uri $uri/ @FRONT@;
        }

        location ~ [^/]\.php(/|$) {
            fastcgi_split_path_info ^(.+?\.php)(/.*)$;
            try_files $fastcgi_script_name =404;
            include @NGINX@/etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
            fastcgi_param PATH_INFO $fastcgi_path_info;
            fastcgi_pass unix:@RUN@/php-fpm.sock;
        }

        location ~ /\.(?!well-known) {
            deny all;
        }
    }
}
`

const httpdConf = `# Written by slipway/php.
ServerRoot "@HTTPD@/usr/lib/apache2"
ServerName localhost
Listen @PORT@
PidFile @RUN@/httpd.pid
DefaultRuntimeDir @RUN@
ErrorLog /dev/stderr
LogFormat "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"" combined
CustomLog /dev/stdout combined
ServerTokens Prod

LoadModule mpm_event_module modules/mod_mpm_event.so
LoadModule authz_core_module modules/mod_authz_core.so
LoadModule authz_host_module modules/mod_authz_host.so
LoadModule dir_module modules/mod_dir.so
LoadModule mime_module modules/mod_mime.so
LoadModule env_module modules/mod_env.so
LoadModule setenvif_module modules/mod_setenvif.so
LoadModule rewrite_module modules/mod_rewrite.so
LoadModule headers_module modules/mod_headers.so
LoadModule expires_module modules/mod_expires.so
LoadModule alias_module modules/mod_alias.so
LoadModule filter_module modules/mod_filter.so
LoadModule deflate_module modules/mod_deflate.so
LoadModule proxy_module modules/mod_proxy.so
LoadModule proxy_fcgi_module modules/mod_proxy_fcgi.so

TypesConfig @HTTPD@/etc/mime.types
AddOutputFilterByType DEFLATE text/html text/plain text/css text/xml application/javascript application/json image/svg+xml

<Directory />
    AllowOverride None
    Require all denied
</Directory>

DocumentRoot "@WEB@"
<Directory "@WEB@">
    Options FollowSymLinks
    # .htaccess files of the app apply (rewrites, as most PHP frameworks ship them).
    AllowOverride All
    Require all granted
    DirectoryIndex index.php index.html
    @FRONT@
</Directory>

<FilesMatch "^\.(?!well-known)">
    Require all denied
</FilesMatch>

<FilesMatch "\.php$">
    <If "-f %{REQUEST_FILENAME}">
        SetHandler "proxy:unix:@RUN@/php-fpm.sock|fcgi://localhost"
    </If>
</FilesMatch>

# The app's own directives.
IncludeOptional @APP@/.httpd.d/*.conf
`
