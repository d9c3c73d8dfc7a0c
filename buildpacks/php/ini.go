package php

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// iniSettings are what php.ini depends on besides the layer.
type iniSettings struct {
	AppDir      string // the app, whose .php.ini.d/ is scanned after ours
	Development bool
}

// ScanDir is PHP_INI_SCAN_DIR: the layer's conf.d (one file per installed extension),
// then the app's .php.ini.d/ for the app's own settings (PHP skips a directory that does
// not exist).
func (s iniSettings) ScanDir(layer string) string {
	return filepath.Join(layer, "etc", "php", "conf.d") + ":" + filepath.Join(s.AppDir, ".php.ini.d")
}

func iniFile(layer string) string { return filepath.Join(layer, "etc", "php", "php.ini") }

// writeINI writes the layer's php.ini and its conf.d: Debian ships each module's ini
// (usr/share/phpX.Y-NAME/NAME/NAME.ini, "; priority=NN") for its postinst to enable;
// they are enabled here in that priority order. Files are only rewritten when their
// content changes, so an unchanged layer stays byte-identical, file times included.
func writeINI(layer, minor string, s iniSettings) error {
	extDir, err := extensionDir(layer)
	if err != nil {
		return err
	}
	display, validate := "Off", "0"
	if s.Development {
		display, validate = "On", "1"
	}
	ini := fmt.Sprintf(`; php.ini written by slipway/php (see its README). Extensions are enabled in
; conf.d/; the app adds or overrides settings in .php.ini.d/*.ini.
[PHP]
extension_dir = "%s"
include_path = ".:%s"
error_reporting = E_ALL & ~E_DEPRECATED & ~E_STRICT
display_errors = %s
display_startup_errors = %s
log_errors = On
error_log = /dev/stderr
expose_php = Off
memory_limit = 128M
max_execution_time = 30
post_max_size = 8M
upload_max_filesize = 2M
variables_order = "EGPCS"
request_order = "GP"
sys_temp_dir = /tmp
upload_tmp_dir = /tmp
session.save_path = /tmp
date.timezone = UTC

[opcache]
opcache.enable = 1
opcache.enable_cli = 0
; The app's files do not change inside the image.
opcache.validate_timestamps = %s
opcache.memory_consumption = 128
opcache.max_accelerated_files = 10000
`, extDir, filepath.Join(layer, "usr", "share", "php"), display, display, validate)
	if err := writeIfChanged(iniFile(layer), []byte(ini)); err != nil {
		return err
	}
	mods, err := moduleINIs(layer, minor)
	if err != nil {
		return err
	}
	confd := filepath.Join(layer, "etc", "php", "conf.d")
	want := map[string]bool{}
	for _, m := range mods {
		name := fmt.Sprintf("%02d-%s.ini", m.priority, m.name)
		want[name] = true
		if err := writeIfChanged(filepath.Join(confd, name), m.content); err != nil {
			return err
		}
	}
	ents, _ := os.ReadDir(confd)
	for _, e := range ents {
		if !want[e.Name()] {
			os.Remove(filepath.Join(confd, e.Name()))
		}
	}
	return nil
}

func extensionDir(layer string) (string, error) {
	// usr/lib/php/<Zend module API number>, e.g. 20220829 for PHP 8.2.
	m, _ := filepath.Glob(filepath.Join(layer, "usr", "lib", "php", "20[0-9]*"))
	if len(m) == 0 {
		return "", fmt.Errorf("the php layer has no extension directory (usr/lib/php/<API number>); is php-common installed?")
	}
	sort.Strings(m)
	return m[len(m)-1], nil
}

type moduleINI struct {
	name     string
	priority int
	content  []byte
}

func moduleINIs(layer, minor string) ([]moduleINI, error) {
	files, err := filepath.Glob(filepath.Join(layer, "usr", "share", "php"+minor+"-*", "*", "*.ini"))
	if err != nil {
		return nil, err
	}
	var out []moduleINI
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f, err)
		}
		m := moduleINI{name: strings.TrimSuffix(filepath.Base(f), ".ini"), priority: 20, content: b}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "; priority="); ok {
				if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
					m.priority = n
				}
			}
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].priority != out[j].priority {
			return out[i].priority < out[j].priority
		}
		return out[i].name < out[j].name
	})
	return out, nil
}

// writeIfChanged writes data to path atomically unless it already holds exactly data.
func writeIfChanged(path string, data []byte) error {
	if b, err := os.ReadFile(path); err == nil && bytes.Equal(b, data) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return sdk.WriteFileAtomic(path, data, 0o644)
}
