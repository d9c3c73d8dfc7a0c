package php

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/slipway/slipway/internal/composerrepo"
	"github.com/slipway/slipway/internal/e2ekit"
)

// greeting is the one Composer package of the test repository: a PSR-4 class.
var greeting = composerrepo.Package{
	Name: "acme/greeting", Version: "1.2.0",
	Require:  map[string]string{"php": ">=8.1"},
	Autoload: map[string]any{"psr-4": map[string]any{`Acme\Greeting\`: "src/"}},
	Files: map[string]string{"src/Greeter.php": `<?php
namespace Acme\Greeting;

final class Greeter
{
    public function greet(string $who): string
    {
        return "greetings, $who";
    }
}
`},
}

// indexPHP answers with what proves the stack works: the package from the vendor layer,
// the PHP version, the SAPI (cli-server or fpm-fcgi), an mbstring call (an extension
// from composer.json) and the request path (front-controller routing).
const indexPHP = `<?php
require __DIR__ . '/../vendor/autoload.php';

$greeter = new Acme\Greeting\Greeter();
printf("%s on PHP %s via %s, %s, path=%s\n", $greeter->greet('php'), PHP_VERSION, PHP_SAPI,
    mb_strtoupper('éclair'), parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH));
`

// phpBuilder is the default builder's PHP group on the default stack.
func phpBuilder(t *testing.T) string {
	return e2ekit.OurBuilder(t, "slipway/build:bookworm", "slipway/run:bookworm", false, "slipway/apt", "slipway/php")
}

// composerApp writes a Composer app (composer.json, composer.lock, public/index.php) and
// a service binding of type composer whose config.json points Composer at repo; it
// returns the app and the binding directory.
func composerApp(t *testing.T, repo *composerrepo.Repo, extraRequire ...string) (string, string) {
	t.Helper()
	app := filepath.Join(t.TempDir(), "app")
	cj, lock := repo.Lock(append([]string{"php", "^8.1", "ext-mbstring", "*", "acme/greeting", "^1.2"}, extraRequire...), greeting)
	e2ekit.WriteFile(t, filepath.Join(app, "composer.json"), cj)
	e2ekit.WriteFile(t, filepath.Join(app, "composer.lock"), lock)
	e2ekit.WriteFile(t, filepath.Join(app, "public", "index.php"), indexPHP)
	return app, composerBinding(t, repo)
}

func composerBinding(t *testing.T, repo *composerrepo.Repo) string {
	t.Helper()
	b := filepath.Join(t.TempDir(), "composer-repo")
	e2ekit.WriteFile(t, filepath.Join(b, "type"), "composer")
	e2ekit.WriteFile(t, filepath.Join(b, "config.json"), repo.Config())
	return b
}

func buildArgs(name, app, builder, binding string, env ...string) []string {
	args := []string{"build", name, "--path", app, "--builder", builder, "--network", "host", "--binding", "composer-repo=" + binding}
	for _, e := range env {
		args = append(args, "--env", e)
	}
	return args
}

// launchLayers are the names of the php buildpack's layers in the image.
func launchLayers(t *testing.T, e *e2ekit.Env, image string) []string {
	md := e2ekit.LayerMetadata(t, e.Store, image)
	var out []string
	for _, bp := range md.Buildpacks {
		if bp.ID == "slipway/php" {
			for name := range bp.Layers {
				out = append(out, name)
			}
		}
	}
	sort.Strings(out)
	return out
}

// get fetches path from the container and checks the body, showing the container's
// output when it lacks something.
func get(t *testing.T, c *e2ekit.Container, path string, wants ...string) string {
	t.Helper()
	body := c.GetPath(path)
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("GET %s lacks %q:\n%s\ncontainer output:\n%s", path, w, body, c.Logs())
			break
		}
	}
	return body
}

func changedLayers(a, b []string) []int {
	var changed []int
	for i := range a {
		if i >= len(b) || a[i] != b[i] {
			changed = append(changed, i)
		}
	}
	return changed
}

// The main PHP flow, in the production default (nginx in front of php-fpm): a
// Composer app builds with no setting but the repository binding, answers HTTP through
// nginx and php-fpm with its package and its extension, routes unknown paths to
// index.php; editing a source file rebuilds without contacting the repository and
// changes only the app layer.
func TestPHPNginx(t *testing.T) {
	e := e2ekit.DefaultStackEnv(t)
	repo := composerrepo.Start(t, greeting)
	app, binding := composerApp(t, repo)
	args := buildArgs("php-nginx", app, phpBuilder(t), binding)

	start := time.Now()
	out := e.MustSlipway(args...)
	t.Logf("cold build: %s", time.Since(start).Round(time.Millisecond))
	e2ekit.MustContain(t, out, "PHP 8.2.", `from composer.json require.php "^8.1"`, "Installed PHP 8.2.", "Extensions required and loaded: mbstring",
		"Installing dependencies with composer", "Process web: nginx with php-fpm, document root public", "Successfully built image php-nginx")
	if got := strings.Join(launchLayers(t, e, "php-nginx"), " "); got != "nginx php server-config vendor" {
		t.Errorf("launch layers %q, want nginx php server-config vendor (Composer is build-only)", got)
	}
	first := e2ekit.ImageLayers(t, e.Store, "php-nginx")
	archive := filepath.Join(t.TempDir(), "php-nginx.tar")
	e.MustSlipway("save", "php-nginx", "-o", archive)
	c := e2ekit.PodmanServe(t, archive, "localhost/php-nginx")
	get(t, c, "/", "greetings, php on PHP 8.2.", "via fpm-fcgi", "ÉCLAIR", "path=/\n")
	get(t, c, "/deep/link?x=1", "path=/deep/link\n")
	if logs := c.Logs(); !strings.Contains(logs, "GET /deep/link") {
		t.Errorf("nginx's access log is not on the container's output:\n%s", logs)
	}

	before := repo.Requests()
	e2ekit.WriteFile(t, filepath.Join(app, "public", "index.php"), strings.Replace(indexPHP, "on PHP", "(edited) on PHP", 1))
	start = time.Now()
	out = e.MustSlipway(args...)
	t.Logf("rebuild after a source edit: %s", time.Since(start).Round(time.Millisecond))
	if n := repo.Requests() - before; n != 0 {
		t.Errorf("the rebuild made %d requests to the Composer repository", n)
	}
	e2ekit.MustContain(t, out, "Reusing PHP 8.2.", "Reusing the vendor layer", "Reusing the nginx layer")
	second := e2ekit.ImageLayers(t, e.Store, "php-nginx")
	if len(first) != len(second) {
		t.Fatalf("layer count %d → %d", len(first), len(second))
	}
	if changed := changedLayers(first, second); len(changed) != 1 {
		t.Errorf("changed layers %v of %d; want exactly the app layer", changed, len(first))
	}
}

// Apache httpd in front of php-fpm, with the app's .htaccess honoured.
func TestPHPHttpd(t *testing.T) {
	e := e2ekit.DefaultStackEnv(t)
	repo := composerrepo.Start(t, greeting)
	app, binding := composerApp(t, repo)
	e2ekit.WriteFile(t, filepath.Join(app, "public", ".htaccess"), "Header set X-From-Htaccess yes\n")
	out := e.MustSlipway(buildArgs("php-httpd", app, phpBuilder(t), binding, "BP_PHP_SERVER=httpd")...)
	e2ekit.MustContain(t, out, "Installed httpd into layer httpd", "Process web: httpd with php-fpm")
	archive := filepath.Join(t.TempDir(), "php-httpd.tar")
	e.MustSlipway("save", "php-httpd", "-o", archive)
	c := e2ekit.PodmanServe(t, archive, "localhost/php-httpd")
	get(t, c, "/", "greetings, php on PHP 8.2.", "via fpm-fcgi", "ÉCLAIR")
	get(t, c, "/deep/link", "path=/deep/link\n")
}

// PHP's built-in server (BP_PHP_SERVER=php-server): no php-fpm and no web server in the
// image.
func TestPHPBuiltinServer(t *testing.T) {
	e := e2ekit.DefaultStackEnv(t)
	repo := composerrepo.Start(t, greeting)
	// ext-pdo_sqlite is a virtual package (php8.2-sqlite3 provides it) whose library
	// (libsqlite3) the run image lacks.
	app, binding := composerApp(t, repo, "ext-pdo_sqlite", "*")
	e2ekit.WriteFile(t, filepath.Join(app, "public", "index.php"), indexPHP+
		"echo 'sqlite ', (new PDO('sqlite::memory:'))->query('select sqlite_version()')->fetchColumn(), \"\\n\";\n")
	out := e.MustSlipway(buildArgs("php-builtin", app, phpBuilder(t), binding, "BP_PHP_SERVER=php-server")...)
	e2ekit.MustContain(t, out, "Extensions required and loaded: mbstring, pdo_sqlite", "Process web: PHP's built-in server, document root public")
	if got := strings.Join(launchLayers(t, e, "php-builtin"), " "); got != "php vendor" {
		t.Errorf("launch layers %q, want php vendor", got)
	}
	archive := filepath.Join(t.TempDir(), "php-builtin.tar")
	e.MustSlipway("save", "php-builtin", "-o", archive)
	c := e2ekit.PodmanServe(t, archive, "localhost/php-builtin")
	get(t, c, "/", "greetings, php on PHP 8.2.", "via cli-server", "ÉCLAIR", "sqlite 3.")
}

// Each bad input fails the build with a message that names the file, the package or
// the extension at fault and what was searched.
func TestPHPBadInput(t *testing.T) {
	e := e2ekit.DefaultStackEnv(t)
	repo := composerrepo.Start(t, greeting)
	builder := phpBuilder(t)
	binding := composerBinding(t, repo)
	cases := []struct {
		name  string
		files map[string]string
		env   []string
		want  []string
	}{
		{"invalid composer.json", map[string]string{"composer.json": "{\n  \"require\": {\n    \"php\": \"^8.1\",\n  }\n}\n", "index.php": "<?php echo 1;"},
			nil, []string{"composer.json: line 4, column 3: invalid character '}'"}},
		{"package the repository lacks", map[string]string{"composer.json": `{"require": {"acme/missing": "^1.0"}}`, "index.php": "<?php echo 1;"},
			nil, []string{"acme/missing", "could not be found", "composer install failed", repo.URL + " (composer)"}},
		{"extension with no Debian package", map[string]string{"composer.json": `{"require": {"php": "^8.1", "ext-nosuchext": "*"}}`, "index.php": "<?php echo 1;"},
			nil, []string{"composer.json requires ext-nosuchext", "no Debian package php8.2-nosuchext", "repositories searched: http://deb.debian.org/debian bookworm main"}},
		{"PHP version the sources lack", map[string]string{"index.php": "<?php echo 1;"},
			[]string{"BP_PHP_VERSION=7.4"}, []string{`no PHP matches "7.4.*" (BP_PHP_VERSION)`, "the apt repositories offer 8.2."}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			app := filepath.Join(t.TempDir(), "app")
			for name, content := range tc.files {
				e2ekit.WriteFile(t, filepath.Join(app, name), content)
			}
			out, code := e.Slipway(buildArgs(fmt.Sprintf("php-bad-%d", i), app, builder, binding, tc.env...)...)
			if code == 0 {
				t.Fatalf("build succeeded:\n%s", out)
			}
			e2ekit.MustContain(t, out, tc.want...)
		})
	}
}
