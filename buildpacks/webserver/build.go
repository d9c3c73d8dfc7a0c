package webserver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// Layer names.
const (
	layerNginx  = "nginx"      // nginx (launch, cache)
	layerHTTPD  = "httpd"      // Apache httpd (launch, cache)
	layerConfig = "web-config" // start script and configuration templates (launch)
	layerDebs   = "debs"       // .debs and apt indexes (cache)
)

// maintainerOnly are dependencies of Debian's nginx and Apache packages that only their
// maintainer scripts, init scripts or cron jobs use — none of which run here — so they
// are taken as installed instead of adding Perl, systemd or procps to the image.
var maintainerOnly = []string{"ucf", "debconf", "perl-base", "perl", "psmisc", "procps", "systemd", "init-system-helpers", "iproute2", "lsb-base"}

// Build installs the web server, writes its configuration and start script, and declares
// the web process. After a Node.js build it serves the build output and removes the rest
// of the app from the image.
func Build(ctx context.Context, bc sdk.BuildContext) (sdk.BuildResult, error) {
	return (&builder{}).build(ctx, bc)
}

// builder holds the test seams.
type builder struct {
	// aptRoot is the build image's root for sdk.Apt ("" is "/").
	aptRoot string
	// noCheck skips running the server's configuration test (unit tests on hosts
	// where the layer's binaries cannot run).
	noCheck bool
}

func (b *builder) build(ctx context.Context, bc sdk.BuildContext) (sdk.BuildResult, error) {
	log := bc.Log
	log.Title("Slipway web server buildpack")
	var res sdk.BuildResult
	cfg, err := readConfig(bc.Env, bc.PlatformDir, bc.AppDir)
	if err != nil {
		return res, err
	}
	s, reason, err := classify(bc.AppDir, cfg, bc.Env, bc.PlatformDir)
	if err != nil {
		return res, err
	}
	if reason != "" {
		return res, fmt.Errorf("%s", reason)
	}
	if s.Node {
		log.Step("Serving the output of the Node.js build (slipway/nodejs ran the build scripts; Node.js and node_modules stay out of the image)")
	}
	log.Step("Server: %s (%s)", s.Server, s.Why)
	root, err := webRoot(bc.AppDir, cfg, s)
	if err != nil {
		return res, err
	}
	auth, err := htpasswdBinding(bc.Env, bc.PlatformDir)
	if err != nil {
		return res, err
	}

	var user *userNginx
	conf := ""
	if s.UserConf != "" {
		b, err := os.ReadFile(filepath.Join(bc.AppDir, s.UserConf))
		if err != nil {
			return res, fmt.Errorf("read %s: %w", s.UserConf, err)
		}
		conf = string(b)
	}
	serverLayer, err := bc.Layers.Get(map[string]string{ServerNginx: layerNginx, ServerHTTPD: layerHTTPD}[s.Server])
	if err != nil {
		return res, err
	}
	pkgs := []string{"nginx"}
	if s.Server == ServerHTTPD {
		pkgs = []string{"apache2-bin", "media-types"}
	}
	if s.Server == ServerNginx && s.UserConf != "" {
		if user, err = prepareNginx(s.UserConf, conf, serverLayer.Path); err != nil {
			return res, err
		}
		pkgs = append(pkgs, user.Packages...)
	}
	var httpd string
	var builtin []string
	if s.Server == ServerHTTPD && s.UserConf != "" {
		httpd, builtin = prepareHTTPD(conf)
	}
	if err := b.install(ctx, bc, serverLayer, s.Server, pkgs); err != nil {
		return res, err
	}

	st := setup{site: s, cfg: cfg, app: bc.AppDir, root: filepath.Join(bc.AppDir, root), server: serverLayer.Path, auth: auth, user: user, httpd: httpd}
	cl, start, err := writeConfig(bc.Layers, st)
	if err != nil {
		return res, err
	}
	switch {
	case s.UserConf != "":
		log.Step("Configuration: the app's %s (%s)", s.UserConf, templatesNote(s.Server))
		if user != nil && len(user.Added) > 0 {
			log.Detail("added what it does not set: %s", strings.Join(user.Added, " "))
		}
		if len(builtin) > 0 {
			log.Detail("LoadModule lines left out (built into Debian's apache2): %s", strings.Join(builtin, " "))
		}
		if user != nil && !user.Port {
			log.Warnf("%s does not use {{port}}: the server ignores the platform's PORT", s.UserConf)
		}
		if auth != nil {
			log.Warnf("binding %s (htpasswd) is not applied to the app's own %s; add the auth directives to it", auth.Name, s.UserConf)
		}
	default:
		var opts []string
		if cfg.PushState {
			opts = append(opts, "push-state routing (BP_WEB_SERVER_ENABLE_PUSH_STATE)")
		}
		if cfg.ForceHTTPS {
			opts = append(opts, "HTTPS redirect (BP_WEB_SERVER_FORCE_HTTPS)")
		}
		if auth != nil {
			opts = append(opts, "basic authentication (binding "+auth.Name+"; needed at launch too)")
		}
		if len(opts) == 0 {
			opts = []string{"no options"}
		}
		log.Step("Configuration: written by the buildpack, web root %s; %s", displayRoot(root), strings.Join(opts, ", "))
		if !exists(filepath.Join(bc.AppDir, root, "index.html")) && !exists(filepath.Join(bc.AppDir, root, "index.htm")) {
			log.Warnf("the web root %s has no index.html: / answers 403", displayRoot(root))
		}
	}
	if !b.noCheck {
		if err := check(ctx, bc, st, cl); err != nil {
			return res, err
		}
	}
	if s.Node {
		keep := append([]string{root, "Procfile"}, cfg.KeepFiles...)
		if s.UserConf != "" {
			keep = append(keep, s.UserConf)
		}
		removed, err := prune(bc.AppDir, keep)
		if err != nil {
			return res, err
		}
		if len(removed) > 0 {
			log.Step("Removed from the image what the site does not serve: %s (keep more with BP_KEEP_FILES)", summarize(removed))
		}
	}
	log.Step("Process web: %s on $PORT (default 8080)", s.Server)
	res.Launch.Processes = append(res.Launch.Processes, sdk.Process{Type: "web", Default: true, Command: []string{start}})
	return res, nil
}

// install puts the server into its layer from the stack's Debian packages.
func (b *builder) install(ctx context.Context, bc sdk.BuildContext, lay *sdk.Layer, server string, pkgs []string) error {
	debs, err := bc.Layers.Get(layerDebs)
	if err != nil {
		return err
	}
	debs.Types = sdk.LayerTypes{Cache: true}
	if err := debs.Write(); err != nil {
		return err
	}
	apt := &sdk.Apt{Root: b.aptRoot, Cache: debs, Log: bc.Log}
	res, err := apt.Install(ctx, lay, sdk.AptRequest{Packages: pkgs, Launch: true, Cache: true, Satisfied: maintainerOnly})
	if err != nil {
		return fmt.Errorf("install %s: %w", server, err)
	}
	if res.Reused {
		bc.Log.Step("Reusing the %s layer", server)
	} else {
		bc.Log.Step("Installed %s into layer %s (%d Debian packages)", server, lay.Name, len(res.Packages))
	}
	return nil
}

func templatesNote(server string) string {
	if server == ServerHTTPD {
		return "httpd fills in ${PORT}, ${APP_ROOT} and ${SERVER_ROOT}"
	}
	return `{{port}} and {{env "NAME"}} are filled in at launch`
}

func displayRoot(root string) string {
	if root == "." {
		return "the app directory"
	}
	return root + "/"
}

// webRoot is the directory the generated configuration serves, relative to the app:
// BP_WEB_SERVER_ROOT; after a Node.js build the first of build/, dist/, public/ the
// build left (a create-react-app's public/ is its template, build/ its output);
// otherwise public/ when present, else the app directory.
func webRoot(appDir string, c config, s site) (string, error) {
	if c.Root != "" {
		if !isDir(filepath.Join(appDir, c.Root)) {
			after := ""
			if s.Node {
				after = " after the Node.js build"
			}
			return "", fmt.Errorf("BP_WEB_SERVER_ROOT=%s: the app has no such directory%s", c.Root, after)
		}
		return c.Root, nil
	}
	if s.Node {
		var tried []string
		for _, d := range []string{"build", "dist", "public"} {
			p := filepath.Join(c.ProjectPath, d)
			if isDir(filepath.Join(appDir, p)) {
				return p, nil
			}
			tried = append(tried, p+"/")
		}
		return "", fmt.Errorf("the Node.js build left none of %s: set BP_WEB_SERVER_ROOT to the directory its build script writes (and BP_NODE_RUN_SCRIPTS to the script, when it is not \"build\")", strings.Join(tried, ", "))
	}
	if isDir(filepath.Join(appDir, "public")) {
		return "public", nil
	}
	return ".", nil
}

// htpasswdBinding is the service binding of type htpasswd (Paketo's name), or nil. Its
// .htpasswd is read at launch from the binding mounted there, never copied into the image.
func htpasswdBinding(env sdk.Environ, platform string) (*sdk.Binding, error) {
	bs := env.Bindings(platform, "htpasswd")
	switch len(bs) {
	case 0:
		return nil, nil
	case 1:
	default:
		var names []string
		for _, b := range bs {
			names = append(names, b.Name)
		}
		return nil, fmt.Errorf("bindings %s are all of type htpasswd: give one", strings.Join(names, ", "))
	}
	b := bs[0]
	data, err := os.ReadFile(filepath.Join(b.Path, ".htpasswd"))
	if err != nil {
		return nil, fmt.Errorf("binding %s (type htpasswd) has no .htpasswd file: put the user:hash lines `htpasswd -c` writes into %s", b.Name, filepath.Join(b.Path, ".htpasswd"))
	}
	n := 0
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if u, h, ok := strings.Cut(line, ":"); !ok || u == "" || h == "" {
			return nil, fmt.Errorf("binding %s: .htpasswd line %d is not user:hash", b.Name, i+1)
		}
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("binding %s: .htpasswd has no user:hash line", b.Name)
	}
	return &b, nil
}

func summarize(names []string) string {
	if len(names) > 8 {
		return strings.Join(names[:8], ", ") + fmt.Sprintf(" and %d more", len(names)-8)
	}
	return strings.Join(names, ", ")
}
