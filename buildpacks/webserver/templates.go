package webserver

// The configurations the buildpack writes. @NAME@ placeholders are filled in at build
// (paths, settings); @PORT@, @RUN@ (a fresh runtime directory) and @HTPASSWD@ (the
// htpasswd binding's file) by the start script at launch, because nginx cannot read the
// environment and both servers need somewhere writable.

const nginxConf = `# Written by slipway/web-server.
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
    charset utf-8;
    access_log /dev/stdout;
    server_tokens off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    # Redirects keep the client's port, not the container's.
    port_in_redirect off;
    gzip on;
    gzip_vary on;
    gzip_min_length 256;
    gzip_types text/plain text/css text/xml text/javascript application/javascript application/json application/xml application/manifest+json application/wasm image/svg+xml;
    client_body_temp_path @RUN@/client_body;
    proxy_temp_path @RUN@/proxy;
    fastcgi_temp_path @RUN@/fastcgi;
    uwsgi_temp_path @RUN@/uwsgi;
    scgi_temp_path @RUN@/scgi;

    server {
        listen @PORT@;
        root @WEB@;
        index index.html index.htm;
@HTTPS@@AUTH@
        location ~ /\.(?!well-known) {
            deny all;
        }

        location @LOCATION@ {
            try_files $uri $uri/ @FALLBACK@;
        }
    }
}
`

// nginxForceHTTPS redirects requests a TLS-terminating proxy received over plain HTTP.
const nginxForceHTTPS = `
        if ($http_x_forwarded_proto != "https") {
            return 301 https://$host$request_uri;
        }
`

const nginxAuth = `
        auth_basic "Restricted";
        auth_basic_user_file @HTPASSWD@;
`

const httpdConf = `# Written by slipway/web-server.
ServerRoot "@HTTPD@/usr/lib/apache2"
ServerName localhost
Listen @PORT@
PidFile @RUN@/httpd.pid
DefaultRuntimeDir @RUN@
ErrorLog /dev/stderr
LogFormat "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"" combined
CustomLog /dev/stdout combined
ServerTokens Prod
# Redirects keep the client's host and port, not the container's.
UseCanonicalName Off

LoadModule mpm_event_module modules/mod_mpm_event.so
LoadModule authz_core_module modules/mod_authz_core.so
LoadModule authz_host_module modules/mod_authz_host.so
LoadModule authz_user_module modules/mod_authz_user.so
LoadModule authn_core_module modules/mod_authn_core.so
LoadModule authn_file_module modules/mod_authn_file.so
LoadModule auth_basic_module modules/mod_auth_basic.so
LoadModule dir_module modules/mod_dir.so
LoadModule mime_module modules/mod_mime.so
LoadModule rewrite_module modules/mod_rewrite.so
LoadModule headers_module modules/mod_headers.so
LoadModule filter_module modules/mod_filter.so
LoadModule deflate_module modules/mod_deflate.so

TypesConfig @HTTPD@/etc/mime.types
AddDefaultCharset utf-8
AddOutputFilterByType DEFLATE text/plain text/html text/css text/xml text/javascript application/javascript application/json application/xml application/manifest+json application/wasm image/svg+xml

<Directory />
    AllowOverride None
    Require all denied
</Directory>

DocumentRoot "@WEB@"
<Directory "@WEB@">
    Options FollowSymLinks
    # The site's own .htaccess files apply (redirects, headers), as on any Apache host.
    AllowOverride All
    DirectoryIndex index.html index.htm
@ACCESS@@FALLBACK@</Directory>
@HTTPS@
<FilesMatch "^\.(?!well-known)">
    Require all denied
</FilesMatch>
`

const httpdForceHTTPS = `
RewriteEngine On
RewriteCond %{HTTP:X-Forwarded-Proto} !https
RewriteRule ^ https://%{HTTP_HOST}%{REQUEST_URI} [R=301,L]
`

const httpdAuth = `    AuthType Basic
    AuthName "Restricted"
    AuthUserFile "@HTPASSWD@"
    Require valid-user
`

// startScript runs the server in the foreground as the container's process: it renders
// the configuration for this container's PORT and environment into a fresh directory and
// execs the server, so podman stop's SIGTERM reaches it.
const startScript = `#!/bin/bash
# Written by slipway/web-server: @SERVER@ in the foreground on $PORT.
set -eu
export PORT="${PORT:-8080}"
run=$(mktemp -d "${TMPDIR:-/tmp}/slipway-web.XXXXXX")
htpasswd=
@AUTH@
# render TEMPLATE OUT: @PORT@, @RUN@ and @HTPASSWD@, then {{port}} and {{env "NAME"}}
# (the nginx buildpack templates Paketo documents), left to right, each value once.
render() {
  local s out="" m v name
  s=$(<"$1")
  s=${s//@PORT@/$PORT}
  s=${s//@RUN@/$run}
  s=${s//@HTPASSWD@/$htpasswd}
  while [[ $s =~ \{\{[[:space:]]*(port|env[[:space:]]+\"([A-Za-z_][A-Za-z0-9_]*)\")[[:space:]]*\}\} ]]; do
    m=${BASH_REMATCH[0]}
    if [[ ${BASH_REMATCH[1]} == port ]]; then v=$PORT; else name=${BASH_REMATCH[2]}; v=${!name-}; fi
    out+=${s%%"$m"*}$v
    s=${s#*"$m"}
  done
  printf '%s\n' "$out$s" >"$2"
}
@PREPARE@
exec @EXEC@
`

// startAuth finds the htpasswd binding at launch (servicebinding.io: $SERVICE_BINDING_ROOT,
// else the CNB default /platform/bindings): the credentials are never in the image.
const startAuth = `bindings=${SERVICE_BINDING_ROOT:-/platform/bindings}
for d in "$bindings"/*/; do
  [ -f "$d/type" ] && [ -f "$d/.htpasswd" ] || continue
  t=$(<"$d/type"); t=${t//[[:space:]]/}
  if [ "${t,,}" = htpasswd ]; then htpasswd="$d.htpasswd"; break; fi
done
if [ -z "$htpasswd" ]; then
  echo "slipway/web-server: basic authentication was configured at build (a binding of type htpasswd), but no binding of type htpasswd with a .htpasswd file is in $bindings at launch; mount it, e.g. podman run -v ./auth:/platform/bindings/auth:ro (the directory holds the files type and .htpasswd), or set SERVICE_BINDING_ROOT" >&2
  exit 1
fi`
