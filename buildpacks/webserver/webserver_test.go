package webserver

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/slipway/slipway/buildpacks/sdk"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// buildpack.md, Detection: a static site passes without a plan; a Node.js app with
// BP_WEB_SERVER requires node-static-build; everything else fails with a reason.
func TestDetect(t *testing.T) {
	cases := []struct {
		name    string
		files   map[string]string
		env     map[string]string
		pass    bool
		node    bool
		reason  string
		wantErr string
	}{
		{"index.html in the app", map[string]string{"index.html": "x"}, nil, true, false, "", ""},
		{"index.html in public", map[string]string{"public/index.html": "x"}, nil, true, false, "", ""},
		{"nginx.conf", map[string]string{"nginx.conf": "x", "site/a.html": "x"}, nil, true, false, "", ""},
		{"httpd.conf", map[string]string{"httpd.conf": "x"}, nil, true, false, "", ""},
		{"BP_WEB_SERVER alone", map[string]string{"a.html": "x"}, map[string]string{"BP_WEB_SERVER": "httpd"}, true, false, "", ""},
		{"Node.js app with BP_WEB_SERVER", map[string]string{"package.json": "{}"}, map[string]string{"BP_WEB_SERVER": "nginx"}, true, true, "", ""},
		{"Node.js project path with BP_WEB_SERVER", map[string]string{"web/package.json": "{}"}, map[string]string{"BP_WEB_SERVER": "nginx", "BP_NODE_PROJECT_PATH": "web"}, true, true, "", ""},
		{"Node.js app without BP_WEB_SERVER", map[string]string{"package.json": "{}", "public/index.html": "x"}, nil, false, false, "set BP_WEB_SERVER=nginx", ""},
		{"index.html beside server.js", map[string]string{"index.html": "x", "server.js": "x"}, nil, false, false, "server.js makes it a Node.js app", ""},
		{"nginx.conf beside server.js", map[string]string{"nginx.conf": "x", "server.js": "x"}, nil, false, false, "set BP_WEB_SERVER=nginx", ""},
		{"BP_WEB_SERVER beside index.js", map[string]string{"index.html": "x", "index.js": "x"}, map[string]string{"BP_WEB_SERVER": "nginx"}, true, false, "", ""},
		{"nothing", map[string]string{"README.md": "x"}, nil, false, false, "no BP_WEB_SERVER, no nginx.conf", ""},
		{"both configurations", map[string]string{"nginx.conf": "x", "httpd.conf": "x"}, nil, false, false, "", "set BP_WEB_SERVER"},
		{"unknown server", map[string]string{"index.html": "x"}, map[string]string{"BP_WEB_SERVER": "caddy"}, false, false, "", "want nginx or httpd"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			app := t.TempDir()
			writeFiles(t, app, tc.files)
			var log strings.Builder
			res, err := Detect(context.Background(), sdk.DetectContext{AppDir: app, PlatformDir: t.TempDir(), Env: sdk.Environ(tc.env), Log: sdk.NewLogger(&log)})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Pass != tc.pass || !strings.Contains(res.Reason, tc.reason) {
				t.Fatalf("pass %v reason %q", res.Pass, res.Reason)
			}
			requires := len(res.Plan.Requires) == 1 && res.Plan.Requires[0].Name == PlanNodeStaticBuild
			if requires != tc.node {
				t.Errorf("plan %+v, want node-static-build required: %v", res.Plan, tc.node)
			}
		})
	}
}

func TestReadConfig(t *testing.T) {
	app := t.TempDir()
	cases := []struct {
		name    string
		env     map[string]string
		check   func(config) bool
		wantErr string
	}{
		{"defaults", nil, func(c config) bool {
			return c.Server == "" && c.NginxConf == "nginx.conf" && c.Location == "/" && !c.PushState
		}, ""},
		{"apache alias", map[string]string{"BP_WEB_SERVER": "Apache2"}, func(c config) bool { return c.Server == ServerHTTPD }, ""},
		{"absolute root under /workspace", map[string]string{"BP_WEB_SERVER_ROOT": "/workspace/dist/"}, func(c config) bool { return c.Root == "dist" }, ""},
		{"absolute root under the app", map[string]string{"BP_WEB_SERVER_ROOT": filepath.Join(app, "site")}, func(c config) bool { return c.Root == "site" }, ""},
		{"root outside", map[string]string{"BP_WEB_SERVER_ROOT": "../x"}, nil, "inside the app"},
		{"flags", map[string]string{"BP_WEB_SERVER_ENABLE_PUSH_STATE": "true", "BP_WEB_SERVER_FORCE_HTTPS": "1"}, func(c config) bool { return c.PushState && c.ForceHTTPS }, ""},
		{"bad flag", map[string]string{"BP_WEB_SERVER_FORCE_HTTPS": "sure"}, nil, "want true or false"},
		{"keep files", map[string]string{"BP_KEEP_FILES": "assets/*:/workspace/robots.txt"}, func(c config) bool { return reflect.DeepEqual(c.KeepFiles, []string{"assets/*", "robots.txt"}) }, ""},
		{"bad location", map[string]string{"BP_WEB_SERVER_LOCATION_PATH": "app; deny"}, nil, "URL path"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := readConfig(sdk.Environ(tc.env), t.TempDir(), app)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !tc.check(c) {
				t.Fatalf("config %+v, %v", c, err)
			}
		})
	}
}

func TestWebRoot(t *testing.T) {
	cases := []struct {
		name  string
		dirs  []string
		site  site
		root  string
		want  string
		wantE string
	}{
		{"static public", []string{"public"}, site{}, "", "public", ""},
		{"static app", nil, site{}, "", ".", ""},
		{"node build before public", []string{"public", "build"}, site{Node: true}, "", "build", ""},
		{"node dist", []string{"dist"}, site{Node: true}, "", "dist", ""},
		{"node without output", []string{"src"}, site{Node: true}, "", "", "left none of build/, dist/, public/"},
		{"setting", []string{"site"}, site{}, "site", "site", ""},
		{"setting missing", nil, site{Node: true}, "out", "", "after the Node.js build"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			app := t.TempDir()
			for _, d := range tc.dirs {
				os.MkdirAll(filepath.Join(app, d), 0o755)
			}
			got, err := webRoot(app, config{Root: tc.root}, tc.site)
			if tc.wantE != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantE) {
					t.Fatalf("err = %v, want %q", err, tc.wantE)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("webRoot = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestPrepareNginx(t *testing.T) {
	src := `worker_processes 1;
{{module "ngx_stream_module"}}
events { worker_connections 64; }
http {
  access_log off;
  server {
    listen {{ port }};
    root public;
    add_header X-Greeting "{{env "GREETING"}}";
  }
}
`
	u, err := prepareNginx("nginx.conf", src, "/layers/nginx")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"load_module /layers/nginx/usr/lib/nginx/modules/ngx_stream_module.so;", "pid @RUN@/nginx.pid;", "daemon off;",
		"http {\n    # Added by slipway/web-server", "client_body_temp_path @RUN@/client_body;", "listen {{ port }};"} {
		if !strings.Contains(u.Template, want) {
			t.Errorf("template lacks %q:\n%s", want, u.Template)
		}
	}
	if strings.Contains(u.Template, "access_log /dev/stdout") {
		t.Errorf("access_log added although the configuration sets it:\n%s", u.Template)
	}
	if !u.Port || !reflect.DeepEqual(u.Env, []string{"GREETING"}) || !reflect.DeepEqual(u.Packages, []string{"libnginx-mod-stream"}) {
		t.Errorf("port %v env %v packages %v", u.Port, u.Env, u.Packages)
	}
	for _, bad := range []struct{ src, want string }{
		{"listen {{ .Port }};", `line 1: unknown template {{ .Port }}`},
		{"daemon on;\n", "daemon on"},
		{"x\n{{module \"stream\"}}", "line 2"},
	} {
		if _, err := prepareNginx("nginx.conf", bad.src, "/l"); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("prepareNginx(%q) = %v, want %q", bad.src, err, bad.want)
		}
	}
}

func TestModulePackage(t *testing.T) {
	for in, want := range map[string]string{
		"ngx_stream_module":            "libnginx-mod-stream",
		"ngx_http_image_filter_module": "libnginx-mod-http-image-filter",
		"ngx_mail_module":              "libnginx-mod-mail",
	} {
		if got, ok := modulePackage(in); !ok || got != want {
			t.Errorf("modulePackage(%q) = %q, %v", in, got, ok)
		}
	}
}

// The start script's bash render and the build's Go render give the same text, so the
// configuration checked at build is the one that runs.
func TestRenderMatchesStartScript(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	tmpl := "listen {{port}}; listen {{ port }};\nx {{env \"A_B\"}} y {{env \"UNSET\"}} z {{env \"LOOP\"}}\npid @RUN@/p; auth @HTPASSWD@; @PORT@\n{{ other }}\n"
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	os.WriteFile(in, []byte(tmpl), 0o644)
	start := startScript[strings.Index(startScript, "render() {"):strings.Index(startScript, "@PREPARE@")]
	script := "set -eu\nPORT=9000 run=/r htpasswd=/h\nexport A_B='v&1' LOOP='{{env \"LOOP\"}}'\n" + start + "\nrender " + in + " " + filepath.Join(dir, "out") + "\n"
	if out, err := exec.Command("bash", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "out"))
	env := map[string]string{"A_B": "v&1", "LOOP": `{{env "LOOP"}}`}
	want := renderTemplate(tmpl, "9000", "/r", "/h", func(n string) string { return env[n] })
	if strings.TrimRight(string(got), "\n") != strings.TrimRight(want, "\n") {
		t.Fatalf("bash render:\n%s\nGo render:\n%s", got, want)
	}
	if !strings.Contains(want, "x v&1 y  z {{env \"LOOP\"}}") || !strings.Contains(want, "listen 9000; listen 9000;") {
		t.Errorf("render:\n%s", want)
	}
}

func TestGeneratedConfig(t *testing.T) {
	base := setup{site: site{Server: ServerNginx}, cfg: config{Location: "/"}, app: "/workspace", root: "/workspace/public", server: "/layers/nginx"}
	auth := &sdk.Binding{Name: "auth", Path: "/b"}
	cases := []struct {
		name        string
		mod         func(*setup)
		want, avoid []string
	}{
		{"nginx plain", func(*setup) {}, []string{"root /workspace/public;", "try_files $uri $uri/ =404;", "gzip on;", "listen @PORT@;", "access_log /dev/stdout;"}, []string{"auth_basic", "301"}},
		{"nginx push state", func(s *setup) { s.cfg.PushState = true }, []string{"try_files $uri $uri/ /index.html;"}, nil},
		{"nginx https", func(s *setup) { s.cfg.ForceHTTPS = true }, []string{`if ($http_x_forwarded_proto != "https")`, "return 301 https://$host$request_uri;"}, nil},
		{"nginx auth", func(s *setup) { s.auth = auth }, []string{"auth_basic_user_file @HTPASSWD@;"}, nil},
		{"httpd plain", func(s *setup) { s.site.Server = ServerHTTPD; s.server = "/layers/httpd" }, []string{`DocumentRoot "/workspace/public"`, "Require all granted", "DEFLATE", "Listen @PORT@"}, []string{"FallbackResource", "AuthType"}},
		{"httpd all", func(s *setup) {
			s.site.Server, s.server, s.cfg.PushState, s.cfg.ForceHTTPS, s.auth = ServerHTTPD, "/layers/httpd", true, true, auth
		}, []string{"FallbackResource /index.html", "RewriteCond %{HTTP:X-Forwarded-Proto} !https", `AuthUserFile "@HTPASSWD@"`, "Require valid-user"}, []string{"Require all granted"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := base
			tc.mod(&s)
			got := s.template()
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("lacks %q:\n%s", w, got)
				}
			}
			for _, a := range tc.avoid {
				if strings.Contains(got, a) {
					t.Errorf("has %q:\n%s", a, got)
				}
			}
			script := s.startScript("/layers/web-config")
			if (s.auth != nil) != strings.Contains(script, "binding of type htpasswd") {
				t.Errorf("start script and auth disagree:\n%s", script)
			}
		})
	}
}

// With basic auth, the start script refuses to start without the binding, and finds it
// by type under SERVICE_BINDING_ROOT.
func TestStartScriptBinding(t *testing.T) {
	s := setup{site: site{Server: ServerNginx}, cfg: config{Location: "/"}, app: "/workspace", root: "/workspace", server: "/layers/nginx", auth: &sdk.Binding{Name: "auth"}}
	script := s.startScript("/l")
	script = strings.Replace(script, "exec ", "echo ", 1)
	script = strings.Replace(script, `render "`, `: "`, 1)
	bindings := t.TempDir()
	run := func() (string, error) {
		cmd := exec.Command("bash", "-c", script)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "SERVICE_BINDING_ROOT=" + bindings, "TMPDIR=" + t.TempDir()}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run(); err == nil || !strings.Contains(out, "no binding of type htpasswd") {
		t.Fatalf("started without the binding: %v\n%s", err, out)
	}
	writeFiles(t, bindings, map[string]string{"creds/type": "HTPasswd\n", "creds/.htpasswd": "u:{SHA}x\n"})
	if out, err := run(); err != nil || !strings.Contains(out, "/layers/nginx/usr/sbin/nginx") {
		t.Fatalf("%v\n%s", err, out)
	}
}

func TestHtpasswdBinding(t *testing.T) {
	cases := []struct {
		name    string
		files   map[string]string
		wantErr string
		found   bool
	}{
		{"none", nil, "", false},
		{"good", map[string]string{"bindings/a/type": "htpasswd", "bindings/a/.htpasswd": "u:{SHA}abc\n"}, "", true},
		{"no file", map[string]string{"bindings/a/type": "htpasswd"}, "has no .htpasswd file", false},
		{"bad line", map[string]string{"bindings/a/type": "htpasswd", "bindings/a/.htpasswd": "nocolon\n"}, "line 1 is not user:hash", false},
		{"two", map[string]string{"bindings/a/type": "htpasswd", "bindings/b/type": "htpasswd"}, "give one", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			platform := t.TempDir()
			writeFiles(t, platform, tc.files)
			b, err := htpasswdBinding(sdk.Environ{}, platform)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || (b != nil) != tc.found {
				t.Fatalf("binding %v, %v", b, err)
			}
		})
	}
}

func TestPrune(t *testing.T) {
	app := t.TempDir()
	writeFiles(t, app, map[string]string{
		"package.json": "{}", "src/App.js": "x", "build/index.html": "x", "build/static/a.js": "x",
		"Procfile": "x", "assets/keep/a.txt": "x", "assets/drop.txt": "x", "nginx.conf": "x",
	})
	os.Symlink("/layers/node_modules", filepath.Join(app, "node_modules"))
	removed, err := prune(app, []string{"build", "Procfile", "assets/keep/*", "nginx.conf"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"assets/drop.txt", "node_modules", "package.json", "src"}; !reflect.DeepEqual(removed, want) {
		t.Errorf("removed %v, want %v", removed, want)
	}
	for _, p := range []string{"build/static/a.js", "Procfile", "assets/keep/a.txt", "nginx.conf"} {
		if !exists(filepath.Join(app, p)) {
			t.Errorf("%s removed", p)
		}
	}
}

func TestPrepareHTTPD(t *testing.T) {
	src := "ServerRoot \"${SERVER_ROOT}\"\nLoadModule mpm_event_module modules/mod_mpm_event.so\n  LoadModule log_config_module modules/mod_log_config.so\nLoadModule unixd_module modules/mod_unixd.so\n"
	got, builtin := prepareHTTPD(src)
	if !reflect.DeepEqual(builtin, []string{"log_config_module", "unixd_module"}) {
		t.Errorf("builtin %v", builtin)
	}
	for _, want := range []string{"\nLoadModule mpm_event_module", "\n  # built into Debian's apache2 (slipway/web-server): LoadModule log_config_module", "ServerRoot \"${SERVER_ROOT}\""} {
		if !strings.Contains(got, want) {
			t.Errorf("lacks %q:\n%s", want, got)
		}
	}
}

// A failing nginx -t is a warning only when nginx blames a line that reads an {{env}}
// variable unset at build.
func TestFailedOnEnvLines(t *testing.T) {
	tmpl := "http {\n  add_header X \"{{env \"GREETING\"}}\";\n  bogus on;\n}\n"
	lines := envLines(tmpl, []string{"GREETING"})
	if !lines[2] || len(lines) != 1 {
		t.Fatalf("lines %v", lines)
	}
	out := func(n int) string {
		return fmt.Sprintf("nginx: [emerg] unknown directive \"bogus\" in /tmp/x/nginx.conf:%d\nnginx: configuration file /tmp/x/nginx.conf test failed\n", n)
	}
	if !failedOnLines(out(2), "/tmp/x/nginx.conf", lines) || failedOnLines(out(3), "/tmp/x/nginx.conf", lines) {
		t.Errorf("blame not mapped to lines")
	}
}
