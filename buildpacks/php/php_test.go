package php

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway/slipway/buildpacks/sdk"
)

func write(t *testing.T, dir string, files map[string]string) {
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

func TestConstraint(t *testing.T) {
	avail := []Version{{7, 4, 33}, {8, 1, 2}, {8, 1, 27}, {8, 2, 0}, {8, 2, 36}, {8, 3, 4}}
	cases := []struct{ c, want string }{
		{"^8.1", "8.3.4"},
		{"^8.1.5", "8.3.4"},
		{"~8.1", "8.3.4"},
		{"~8.1.0", "8.1.27"},
		{"8.2.*", "8.2.36"},
		{"8.*", "8.3.4"},
		{"8.2", "8.2.0"}, // Composer: an exact version
		{">=8.1 <8.3", "8.2.36"},
		{">=8.1,<8.3", "8.2.36"},
		{"^7.4 || ^8.0", "8.3.4"},
		{"^7.4|~8.1.0", "8.1.27"},
		{"7.4 - 8.1", "8.1.27"},
		{"7.4 - 8.1.2", "8.1.2"},
		{">8.1", "8.3.4"},
		{"<8.2", "8.1.27"},
		{"<=8.2.0", "8.2.0"},
		{"!=8.3.4", "8.2.36"},
		{">=8.2@stable", "8.3.4"},
		{"*", "8.3.4"},
		{"^9.0", ""},
		{"^0.3", ""},
	}
	for _, tc := range cases {
		t.Run(tc.c, func(t *testing.T) {
			c, err := ParseConstraint(tc.c, "test")
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if v, ok := c.Newest(avail); ok {
				got = v.String()
			}
			if got != tc.want {
				t.Errorf("%q → %q, want %q", tc.c, got, tc.want)
			}
		})
	}
	if _, err := ParseConstraint(">=eight", "composer.json require.php"); err == nil || !strings.Contains(err.Error(), "composer.json require.php") {
		t.Errorf("bad constraint: %v", err)
	}
}

func TestVersionRequirement(t *testing.T) {
	m := &Manifest{Require: map[string]string{"php": "^8.1"}}
	cases := []struct{ env, text, source string }{
		{"", "^8.1", "composer.json require.php"},
		{"8.2", "8.2.*", "BP_PHP_VERSION"},
		{"8.2.3", "8.2.3", "BP_PHP_VERSION"},
		{">=8.1", ">=8.1", "BP_PHP_VERSION"},
	}
	for _, tc := range cases {
		c, err := versionRequirement(tc.env, m)
		if err != nil || c.Text != tc.text || c.Source != tc.source {
			t.Errorf("%q: %q from %q, %v; want %q from %q", tc.env, c.Text, c.Source, err, tc.text, tc.source)
		}
	}
	if c, _ := versionRequirement("", &Manifest{}); !strings.HasPrefix(c.Source, "default") {
		t.Errorf("no requirement: %+v", c)
	}
}

func TestReadManifest(t *testing.T) {
	cases := []struct {
		name    string
		files   map[string]string
		wantErr string
		exts    string
	}{
		{"no composer.json", nil, "", ""},
		{"syntax error: line and column", map[string]string{"composer.json": "{\n  \"require\": {\n    \"php\": \"^8.1\",\n  }\n}\n"}, "composer.json: line 4, column 3: invalid character '}'", ""},
		{"truncated", map[string]string{"composer.json": "{\n  \"require\": {"}, "composer.json: line 2, column 15: unexpected end of JSON input", ""},
		{"wrong type: line and column", map[string]string{"composer.json": "{\n  \"require\": {\"php\": 8}\n}"}, "composer.json: line 2, column 22: require: expected string, found a JSON number", ""},
		{"lock syntax error", map[string]string{"composer.json": "{}", "composer.lock": "{\"packages\": [}"}, "composer.lock: line 1, column 15", ""},
		{"vendor-dir outside", map[string]string{"composer.json": `{"config": {"vendor-dir": "../x"}}`}, "config.vendor-dir", ""},
		{"extensions from composer.json and the lock", map[string]string{
			"composer.json": `{"require": {"php": "^8.1", "ext-mbstring": "*", "ext-PDO_MySQL": "*", "acme/x": "^1"}}`,
			"composer.lock": `{"packages": [{"name": "acme/x", "version": "1.0.0", "require": {"ext-intl": "*", "ext-mbstring": "*"}}]}`,
		}, "", "intl:composer.lock package acme/x mbstring:composer.json pdo_mysql:composer.json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, tc.files)
			m, err := ReadManifest(dir)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range m.Extensions() {
				got = append(got, e.Name+":"+e.From)
			}
			if strings.Join(got, " ") != tc.exts {
				t.Errorf("extensions %q, want %q", strings.Join(got, " "), tc.exts)
			}
		})
	}
}

func TestExtPackage(t *testing.T) {
	for ext, want := range map[string]string{"mbstring": "php8.2-mbstring", "pdo_mysql": "php8.2-pdo-mysql", "zend-opcache": "php8.2-opcache", "Intl": "php8.2-intl"} {
		if got := extPackage("8.2", ext); got != want {
			t.Errorf("%s → %s, want %s", ext, got, want)
		}
	}
}

func TestAutoloadKey(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"composer.json":       `{"autoload": {"psr-4": {"App\\": "src/"}, "classmap": ["lib/"]}}`,
		"src/Foo.php":         "<?php class Foo {}",
		"lib/Legacy.php":      "<?php class Legacy {}",
		"public/index.php":    "<?php",
		"src/notes.txt":       "x",
		"src/Sub/Handler.php": "<?php",
	})
	m, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	key := func() string {
		k, err := m.autoloadKey(dir)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	k0 := key()
	steps := []struct {
		name    string
		files   map[string]string
		changes bool
	}{
		{"edit a PSR-4 class", map[string]string{"src/Foo.php": "<?php class Foo { function x() {} }"}, false},
		{"edit outside the autoload roots", map[string]string{"public/index.php": "<?php echo 2;"}, false},
		{"add a PSR-4 class", map[string]string{"src/Bar.php": "<?php class Bar {}"}, true},
		{"edit a class-map file", map[string]string{"lib/Legacy.php": "<?php class Legacy2 {}"}, true},
	}
	for _, s := range steps {
		write(t, dir, s.files)
		k := key()
		if (k != k0) != s.changes {
			t.Errorf("%s: key changed = %v, want %v", s.name, k != k0, s.changes)
		}
		k0 = k
	}
}

func TestDetect(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		env   map[string]string
		pass  bool
	}{
		{"composer.json", map[string]string{"composer.json": "{}"}, nil, true},
		{"index.php", map[string]string{"index.php": "<?php"}, nil, true},
		{"public/index.php", map[string]string{"public/index.php": "<?php"}, nil, true},
		{"php file in the web root", map[string]string{"public/hello.php": "<?php"}, nil, true},
		{"php file outside the web root", map[string]string{"public/style.css": "", "bin/tool.php": "<?php"}, nil, false},
		{"BP_PHP_WEB_DIR", map[string]string{"web/app.php": "<?php"}, map[string]string{"BP_PHP_WEB_DIR": "web"}, true},
		{"no php", map[string]string{"package.json": "{}"}, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, tc.files)
			res, err := Detect(t.Context(), sdk.DetectContext{AppDir: dir, Env: sdk.Environ(tc.env)})
			if err != nil {
				t.Fatal(err)
			}
			if res.Pass != tc.pass {
				t.Errorf("pass = %v, want %v (%s)", res.Pass, tc.pass, res.Reason)
			}
			if !res.Pass && !strings.Contains(res.Reason, "no composer.json, no index.php") {
				t.Errorf("reason %q", res.Reason)
			}
		})
	}
}

func TestReadConfig(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{"public/index.php": "<?php"})
	cases := []struct {
		name    string
		env     map[string]string
		execEnv string
		server  string
		web     string
		wantErr string
	}{
		{"production default", nil, "production", ServerNginx, "public", ""},
		{"development default", nil, "development", ServerBuiltin, "public", ""},
		{"apache alias", map[string]string{"BP_PHP_SERVER": "apache2"}, "production", ServerHTTPD, "public", ""},
		{"unknown server", map[string]string{"BP_PHP_SERVER": "caddy"}, "production", "", "", `BP_PHP_SERVER="caddy": want php-server, nginx or httpd`},
		{"web dir set", map[string]string{"BP_PHP_WEB_DIR": "."}, "production", ServerNginx, ".", ""},
		{"web dir missing", map[string]string{"BP_PHP_WEB_DIR": "htdocs"}, "production", "", "", `BP_PHP_WEB_DIR="htdocs": the app has no such directory`},
		{"web dir outside", map[string]string{"BP_PHP_WEB_DIR": "../etc"}, "production", "", "", "inside the app"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := readConfig(sdk.Environ(tc.env), "", dir, tc.execEnv)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || c.Server != tc.server || c.WebDir != tc.web {
				t.Errorf("server %q web %q err %v; want %q %q", c.Server, c.WebDir, err, tc.server, tc.web)
			}
		})
	}
}

func TestDescribeRepositories(t *testing.T) {
	cases := []struct {
		name  string
		lists []any
		want  string
	}{
		{"default", nil, "https://repo.packagist.org (packagist.org)"},
		{"project list and home config turning packagist off",
			[]any{[]any{map[string]any{"type": "vcs", "url": "https://git.example/x"}}, []any{map[string]any{"type": "composer", "url": "http://127.0.0.1:1"}, map[string]any{"packagist.org": false}}},
			"https://git.example/x (vcs), http://127.0.0.1:1 (composer)"},
		{"object form", []any{map[string]any{"packagist.org": false, "mine": map[string]any{"type": "composer", "url": "https://mirror.example"}}}, "https://mirror.example (composer)"},
	}
	for _, tc := range cases {
		if got := describeRepositories(tc.lists...); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestWriteINI(t *testing.T) {
	layer := t.TempDir()
	write(t, layer, map[string]string{
		"usr/lib/php/20220829/mbstring.so":                "",
		"usr/share/php8.2-opcache/opcache/opcache.ini":    "; priority=10\nzend_extension=opcache.so\n",
		"usr/share/php8.2-mbstring/mbstring/mbstring.ini": "; priority=20\nextension=mbstring.so\n",
		"usr/share/php8.2-mysql/mysqlnd/mysqlnd.ini":      "; priority=10\nextension=mysqlnd.so\n",
		"usr/share/php8.2-mysql/pdo_mysql/pdo_mysql.ini":  "; priority=20\nextension=pdo_mysql.so\n",
		"usr/share/php8.2-common/common/calendar.ini":     "; priority=20\nextension=calendar.so\n",
		"usr/share/php8.1-mbstring/mbstring/mbstring.ini": "; another PHP's\n",
		"etc/php/conf.d/20-gone.ini":                      "extension=gone.so\n",
	})
	if err := writeINI(layer, "8.2", iniSettings{AppDir: "/workspace"}); err != nil {
		t.Fatal(err)
	}
	ini, _ := os.ReadFile(iniFile(layer))
	for _, want := range []string{`extension_dir = "` + layer + `/usr/lib/php/20220829"`, "error_log = /dev/stderr", "display_errors = Off", "opcache.validate_timestamps = 0"} {
		if !strings.Contains(string(ini), want) {
			t.Errorf("php.ini lacks %q:\n%s", want, ini)
		}
	}
	ents, _ := os.ReadDir(filepath.Join(layer, "etc/php/conf.d"))
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if want := "10-mysqlnd.ini 10-opcache.ini 20-calendar.ini 20-mbstring.ini 20-pdo_mysql.ini"; strings.Join(got, " ") != want {
		t.Errorf("conf.d %q, want %q", strings.Join(got, " "), want)
	}
	// Unchanged content is not rewritten (an unchanged layer keeps its file times).
	fi, _ := os.Stat(iniFile(layer))
	if err := writeINI(layer, "8.2", iniSettings{AppDir: "/workspace"}); err != nil {
		t.Fatal(err)
	}
	if fi2, _ := os.Stat(iniFile(layer)); !os.SameFile(fi, fi2) {
		t.Error("php.ini was rewritten with the same content")
	}
	if got := (iniSettings{AppDir: "/workspace"}).ScanDir(layer); got != layer+"/etc/php/conf.d:/workspace/.php.ini.d" {
		t.Errorf("scan dir %q", got)
	}
}
