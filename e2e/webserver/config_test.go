package webserver

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway/slipway/internal/e2ekit"
)

// userNginxConf is the shape of Paketo's nginx sample: {{port}}, {{env}}, a relative
// root and `include mime.types`, which the buildpack resolves beside the file.
const userNginxConf = `worker_processes 1;
events { worker_connections 128; }
http {
  include mime.types;
  server {
    listen {{port}};
    root site;
    location / {
      add_header X-Greeting "{{env "GREETING"}}";
    }
    location = /healthz {
      return 200 "ok from my own nginx.conf\n";
    }
  }
}
`

// The app's own nginx.conf is used with {{port}} and {{env "NAME"}} filled in at launch;
// one nginx rejects fails the build with nginx -t's words.
func testOwnNginxConf(t *testing.T, e *e2ekit.Env, builder string) {
	app := filepath.Join(t.TempDir(), "app")
	e2ekit.WriteFile(t, filepath.Join(app, "nginx.conf"), userNginxConf)
	e2ekit.WriteFile(t, filepath.Join(app, "site", "index.html"), "<p>my own nginx</p>\n")
	e2ekit.WriteFile(t, filepath.Join(app, "site", "app.css"), "p { color: red }\n")
	out := e.MustSlipway(buildArgs("own-nginx", app, builder)...)
	e2ekit.MustContain(t, out, "Server: nginx (the app's nginx.conf)", `Configuration: the app's nginx.conf ({{port}} and {{env "NAME"}} are filled in at launch)`,
		"added what it does not set: pid @RUN@/nginx.pid; daemon off; access_log /dev/stdout;", "Configuration test passed (nginx -t)")
	c := serve(t, e, "own-nginx", "-e", "GREETING=hello-from-env")
	expect(t, c, request{path: "/healthz"}, 200, "ok from my own nginx.conf")
	got := expect(t, c, request{path: "/"}, 200, "my own nginx")
	if g := got.header.Get("X-Greeting"); g != "hello-from-env" {
		t.Errorf("X-Greeting %q, want the launch environment's GREETING", g)
	}
	if ct := do(t, c, request{path: "/app.css"}).header.Get("Content-Type"); ct != "text/css" {
		t.Errorf("app.css Content-Type %q: mime.types was not included", ct)
	}

	e2ekit.WriteFile(t, filepath.Join(app, "nginx.conf"), strings.Replace(userNginxConf, "root site;", "root site;\n    bogus_directive on;", 1))
	bad, code := e.Slipway(buildArgs("own-nginx", app, builder)...)
	if code == 0 {
		t.Fatalf("a configuration nginx rejects built:\n%s", bad)
	}
	e2ekit.MustContain(t, bad, "nginx rejects nginx.conf (nginx -t with PORT=8080)", `unknown directive "bogus_directive"`)
}

// The app's own httpd.conf, written as for Paketo's httpd buildpack: httpd fills in
// ${PORT}, ${APP_ROOT} and ${SERVER_ROOT}, whose modules/, conf/mime.types and logs/ work.
func testOwnHttpdConf(t *testing.T, e *e2ekit.Env, builder string) {
	app := filepath.Join(t.TempDir(), "app")
	e2ekit.WriteFile(t, filepath.Join(app, "httpd.conf"), `ServerRoot "${SERVER_ROOT}"
Listen "${PORT}"
ServerName "0.0.0.0"
LoadModule mpm_event_module modules/mod_mpm_event.so
LoadModule authz_core_module modules/mod_authz_core.so
LoadModule dir_module modules/mod_dir.so
LoadModule mime_module modules/mod_mime.so
LoadModule headers_module modules/mod_headers.so
LoadModule log_config_module modules/mod_log_config.so
TypesConfig conf/mime.types
PidFile logs/httpd.pid
ErrorLog logs/error_log
CustomLog /dev/stdout "%r %>s"
DirectoryIndex index.html
DocumentRoot "${APP_ROOT}/htdocs"
Header set X-Served-By "my httpd.conf"
<Directory />
  AllowOverride None
  Require all denied
</Directory>
<Directory "${APP_ROOT}/htdocs">
  Require all granted
</Directory>
`)
	e2ekit.WriteFile(t, filepath.Join(app, "htdocs", "index.html"), "<p>my own httpd</p>\n")
	out := e.MustSlipway(buildArgs("own-httpd", app, builder)...)
	e2ekit.MustContain(t, out, "Server: httpd (the app's httpd.conf)", "Installed httpd into layer httpd", "Configuration test passed (apache2 -t)")
	c := serve(t, e, "own-httpd")
	got := expect(t, c, request{path: "/"}, 200, "my own httpd")
	if g := got.header.Get("X-Served-By"); g != "my httpd.conf" {
		t.Errorf("X-Served-By %q", g)
	}
	if logs := c.Logs(); !strings.Contains(logs, "GET / HTTP/1.1 200") {
		t.Errorf("the CustomLog of httpd.conf is not on the container's output:\n%s", logs)
	}
}
