package webserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// setup is what the configuration is made from.
type setup struct {
	site   site
	cfg    config
	app    string       // the app directory
	root   string       // the web root, absolute
	server string       // the nginx or httpd layer
	auth   *sdk.Binding // the htpasswd binding, nil without basic auth
	user   *userNginx   // the app's prepared nginx.conf
	httpd  string       // the app's prepared httpd.conf
}

// confName is the file the start script renders the configuration into.
func (s setup) confName() string {
	if s.site.UserConf != "" {
		return filepath.Base(s.site.UserConf)
	}
	return s.site.Server + ".conf"
}

// template is the configuration the start script renders at launch.
func (s setup) template() string {
	switch {
	case s.user != nil:
		return s.user.Template
	case s.site.UserConf != "":
		return s.httpd
	case s.site.Server == ServerNginx:
		fallback, https, auth := "=404", "", ""
		if s.cfg.PushState {
			fallback = "/index.html"
		}
		if s.cfg.ForceHTTPS {
			https = nginxForceHTTPS
		}
		if s.auth != nil {
			auth = nginxAuth
		}
		return replace(nginxConf, "@NGINX@", s.server, "@WEB@", s.root, "@HTTPS@", https, "@AUTH@", auth,
			"@LOCATION@", s.cfg.Location, "@FALLBACK@", fallback)
	default:
		access, fallback, https := "    Require all granted\n", "", ""
		if s.auth != nil {
			access = httpdAuth
		}
		if s.cfg.PushState {
			fallback = "    FallbackResource /index.html\n"
		}
		if s.cfg.ForceHTTPS {
			https = httpdForceHTTPS
		}
		return replace(httpdConf, "@HTTPD@", s.server, "@WEB@", s.root, "@ACCESS@", access, "@FALLBACK@", fallback, "@HTTPS@", https)
	}
}

// startScript is the web process: it prepares what the server needs at launch and execs
// it (cl is the web-config layer's path).
func (s setup) startScript(cl string) string {
	var prep []string
	tmpl := s.template()
	if tmpl != "" {
		prep = append(prep, fmt.Sprintf(`render %q "$run/%s"`, filepath.Join(cl, s.confName()), s.confName()))
	}
	var run string
	switch {
	case s.site.Server == ServerNginx:
		prefix := `"$run/"`
		if s.site.UserConf != "" {
			// Relative include paths are relative to the configuration's directory (now
			// $run): link what sits beside the app's file there, then the layer's
			// mime.types and the like; relative roots are relative to the app (-p).
			prep = append(prep, "shopt -s nullglob",
				fmt.Sprintf(`for f in %q/* %q/*; do [ -e "$run/${f##*/}" ] || ln -s "$f" "$run/${f##*/}"; done`,
					filepath.Dir(filepath.Join(s.app, s.site.UserConf)), filepath.Join(s.server, "etc", "nginx")))
			prefix = fmt.Sprintf("%q", s.app+"/")
		}
		run = fmt.Sprintf(`%q -p %s -e stderr -c "$run/%s"`, filepath.Join(s.server, "usr", "sbin", "nginx"), prefix, s.confName())
	case s.site.UserConf != "":
		// Paketo's httpd conventions: the app's httpd.conf reads ${PORT}, ${APP_ROOT}
		// and ${SERVER_ROOT}, a writable server root with modules/, conf/mime.types and
		// logs/; the -C defaults (before the file) keep Debian's /var paths out of use.
		prep = append(prep, `mkdir -p "$run/root/conf" "$run/root/logs"`,
			fmt.Sprintf(`ln -s %q "$run/root/modules"`, filepath.Join(s.server, "usr", "lib", "apache2", "modules")),
			fmt.Sprintf(`ln -s %q "$run/root/conf/mime.types"`, filepath.Join(s.server, "etc", "mime.types")),
			fmt.Sprintf(`export SERVER_ROOT="$run/root" APP_ROOT=%q`, s.app))
		run = fmt.Sprintf(`%q -d "$SERVER_ROOT" -C "DefaultRuntimeDir $run" -C "PidFile $run/httpd.pid" -C "ErrorLog /dev/stderr" -f "$run/%s" -DFOREGROUND`,
			filepath.Join(s.server, "usr", "sbin", "apache2"), s.confName())
	default:
		run = fmt.Sprintf(`%q -d %q -f "$run/%s" -DFOREGROUND`, filepath.Join(s.server, "usr", "sbin", "apache2"),
			filepath.Join(s.server, "usr", "lib", "apache2"), s.confName())
	}
	auth := ""
	if s.auth != nil && s.site.UserConf == "" {
		auth = startAuth
	}
	return replace(startScript, "@SERVER@", s.site.Server, "@AUTH@", auth, "@PREPARE@", strings.Join(prep, "\n"), "@EXEC@", run)
}

// writeConfig writes the start script and the configuration template into the
// web-config layer (launch); unchanged files are left alone so the layer keeps its digest.
func writeConfig(layers sdk.Layers, s setup) (*sdk.Layer, string, error) {
	lay, err := layers.Get(layerConfig)
	if err != nil {
		return nil, "", err
	}
	files := map[string]string{"start": s.startScript(lay.Path)}
	if t := s.template(); t != "" {
		files[s.confName()] = t
	}
	if err := os.MkdirAll(lay.Path, 0o755); err != nil {
		return nil, "", fmt.Errorf("create layer %s: %w", lay.Path, err)
	}
	ents, _ := os.ReadDir(lay.Path)
	for _, e := range ents {
		if _, ok := files[e.Name()]; !ok && e.Name() != "env.launch" {
			os.RemoveAll(filepath.Join(lay.Path, e.Name()))
		}
	}
	for name, content := range files {
		if err := writeIfChanged(filepath.Join(lay.Path, name), []byte(content)); err != nil {
			return nil, "", err
		}
	}
	start := filepath.Join(lay.Path, "start")
	if err := os.Chmod(start, 0o755); err != nil {
		return nil, "", err
	}
	// PORT convention: the server listens on $PORT; 8080 unless the platform sets it.
	if err := writeIfChanged(filepath.Join(lay.Path, "env.launch", "PORT.default"), []byte("8080")); err != nil {
		return nil, "", err
	}
	lay.Types = sdk.LayerTypes{Launch: true}
	lay.Metadata = map[string]any{"server": s.site.Server}
	if err := lay.Write(); err != nil {
		return nil, "", err
	}
	return lay, start, nil
}

func writeIfChanged(path string, data []byte) error {
	if b, err := os.ReadFile(path); err == nil && bytes.Equal(b, data) {
		return nil
	}
	return sdk.WriteFileAtomic(path, data, 0o644)
}

func replace(s string, oldnew ...string) string { return strings.NewReplacer(oldnew...).Replace(s) }

// check runs the server's own configuration test (nginx -t, apache2 -t) on the
// configuration as the start script would render it with PORT=8080, so a configuration
// the server rejects fails the build with the server's words instead of the container at
// launch.
func check(ctx context.Context, bc sdk.BuildContext, s setup, cl *sdk.Layer) error {
	run, err := os.MkdirTemp("", "slipway-web-check-")
	if err != nil {
		return fmt.Errorf("check the configuration: %w", err)
	}
	defer os.RemoveAll(run)
	htpasswd := "/dev/null"
	if s.auth != nil {
		htpasswd = filepath.Join(s.auth.Path, ".htpasswd")
	}
	if t := s.template(); t != "" {
		out := renderTemplate(t, "8080", run, htpasswd, bc.Env.Get)
		if err := os.WriteFile(filepath.Join(run, s.confName()), []byte(out), 0o644); err != nil {
			return err
		}
	}
	env := bc.Env.List("PORT=8080")
	if libs, _ := filepath.Glob(filepath.Join(s.server, "usr", "lib", "*-linux-gnu*")); len(libs) > 0 {
		env = append(env, "LD_LIBRARY_PATH="+strings.Join(append(libs, bc.Env.Get("LD_LIBRARY_PATH")), ":"))
	}
	var args []string
	bin := filepath.Join(s.server, "usr", "sbin", "nginx")
	switch {
	case s.site.Server == ServerNginx:
		prefix := run + "/"
		if s.site.UserConf != "" {
			prefix = s.app + "/"
			for _, dir := range []string{filepath.Dir(filepath.Join(s.app, s.site.UserConf)), filepath.Join(s.server, "etc", "nginx")} {
				ents, _ := os.ReadDir(dir)
				for _, e := range ents {
					if dst := filepath.Join(run, e.Name()); !exists(dst) {
						os.Symlink(filepath.Join(dir, e.Name()), dst)
					}
				}
			}
		}
		args = []string{"-t", "-q", "-p", prefix, "-e", "stderr", "-c", filepath.Join(run, s.confName())}
	default:
		bin = filepath.Join(s.server, "usr", "sbin", "apache2")
		if s.site.UserConf != "" {
			root := filepath.Join(run, "root")
			for _, d := range []string{"conf", "logs"} {
				os.MkdirAll(filepath.Join(root, d), 0o755)
			}
			os.Symlink(filepath.Join(s.server, "usr", "lib", "apache2", "modules"), filepath.Join(root, "modules"))
			os.Symlink(filepath.Join(s.server, "etc", "mime.types"), filepath.Join(root, "conf", "mime.types"))
			env = append(env, "SERVER_ROOT="+root, "APP_ROOT="+s.app)
			args = []string{"-t", "-d", root, "-C", "DefaultRuntimeDir " + run, "-C", "PidFile " + run + "/httpd.pid",
				"-C", "ErrorLog /dev/stderr", "-f", filepath.Join(run, s.confName())}
		} else {
			args = []string{"-t", "-d", filepath.Join(s.server, "usr", "lib", "apache2"), "-f", filepath.Join(run, s.confName())}
		}
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.Dir = s.app
	out, err := cmd.CombinedOutput()
	if err == nil {
		bc.Log.Step("Configuration test passed (%s -t)", filepath.Base(bin))
		return nil
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return fmt.Errorf("run %s -t: %w", filepath.Base(bin), err)
	}
	what := "the configuration the buildpack wrote"
	if s.site.UserConf != "" {
		what = s.site.UserConf
	}
	if s.user != nil {
		var unset []string
		for _, n := range s.user.Env {
			if bc.Env.Get(n) == "" {
				unset = append(unset, n)
			}
		}
		if len(unset) > 0 && failedOnLines(string(out), filepath.Join(run, s.confName()), envLines(s.user.Template, unset)) {
			bc.Log.Warnf("%s -t rejects %s on a line reading %s, unset at build; the server checks it again at launch:\n%s",
				filepath.Base(bin), what, strings.Join(unset, ", "), strings.TrimSpace(string(out)))
			return nil
		}
	}
	return fmt.Errorf("%s rejects %s (%s -t with PORT=8080):\n%s", s.site.Server, what, filepath.Base(bin), strings.TrimSpace(string(out)))
}

// prune removes from the app directory everything no keep pattern (a path or glob
// relative to the app) names, descending into directories that hold something kept. It
// returns the removed paths, relative to the app.
func prune(appDir string, keep []string) ([]string, error) {
	var removed []string
	var walk func(rel string) error
	walk = func(rel string) error {
		ents, err := os.ReadDir(filepath.Join(appDir, rel))
		if err != nil {
			return fmt.Errorf("read %s: %w", filepath.Join(appDir, rel), err)
		}
		for _, e := range ents {
			p := filepath.Join(rel, e.Name())
			switch keepState(p, keep) {
			case keepAll:
				continue
			case keepInside:
				if e.IsDir() {
					if err := walk(p); err != nil {
						return err
					}
					continue
				}
			}
			if err := os.RemoveAll(filepath.Join(appDir, p)); err != nil {
				return fmt.Errorf("remove %s from the app: %w", p, err)
			}
			removed = append(removed, p)
		}
		return nil
	}
	err := walk("")
	sort.Strings(removed)
	return removed, err
}

const (
	keepNone = iota
	keepInside
	keepAll
)

func keepState(p string, keep []string) int {
	state := keepNone
	parts := strings.Split(p, string(filepath.Separator))
	for _, k := range keep {
		if k == "." {
			return keepAll
		}
		if ok, _ := filepath.Match(k, p); ok {
			return keepAll
		}
		kp := strings.Split(k, string(filepath.Separator))
		if len(kp) <= len(parts) {
			continue
		}
		inside := true
		for i := range parts {
			if ok, _ := filepath.Match(kp[i], parts[i]); !ok {
				inside = false
				break
			}
		}
		if inside {
			state = keepInside
		}
	}
	return state
}
