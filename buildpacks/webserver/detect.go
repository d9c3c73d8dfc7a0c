package webserver

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// PlanNodeStaticBuild is the build plan requirement that asks slipway/nodejs to build the
// app for static serving: it runs the build scripts and leaves Node.js, node_modules and
// its web process out of the image (buildpack.md, Build Plan (TOML)).
const PlanNodeStaticBuild = "node-static-build"

// site is what the app is, as detection and build both see it.
type site struct {
	// Node is true for an app with package.json and BP_WEB_SERVER: slipway/nodejs
	// builds it, this buildpack serves the output.
	Node bool
	// Server is nginx or httpd.
	Server string
	// UserConf is the app's own nginx.conf or httpd.conf, relative to the app; "" when
	// the buildpack writes the configuration.
	UserConf string
	// Why says what decided, for the log.
	Why string
}

// nodeEntryPoints are the files slipway/nodejs runs an app without package.json from; a
// bare index.html next to one is a Node.js app's page, not a static site.
var nodeEntryPoints = []string{"server.js", "app.js", "main.js", "index.js"}

// classify decides whether and how the app is served; reason is set when it is not.
func classify(appDir string, c config, env sdk.Environ, platform string) (s site, reason string, err error) {
	nginxConf := exists(filepath.Join(appDir, c.NginxConf))
	httpdConf := exists(filepath.Join(appDir, "httpd.conf"))
	s.Server = c.Server
	switch {
	case s.Server != "":
		s.Why = "BP_WEB_SERVER=" + s.Server
	case nginxConf && httpdConf:
		return s, "", fmt.Errorf("the app has both %s and httpd.conf: set BP_WEB_SERVER=nginx or BP_WEB_SERVER=httpd to choose", c.NginxConf)
	case nginxConf:
		s.Server, s.Why = ServerNginx, "the app's "+c.NginxConf
	case httpdConf:
		s.Server, s.Why = ServerHTTPD, "the app's httpd.conf"
	}
	if s.Server == ServerNginx && nginxConf {
		s.UserConf = c.NginxConf
	}
	if s.Server == ServerHTTPD && httpdConf {
		s.UserConf = "httpd.conf"
	}
	if exists(filepath.Join(appDir, c.ProjectPath, "package.json")) {
		if c.Server == "" {
			return s, fmt.Sprintf("slipway/web-server: %s is a Node.js app; set BP_WEB_SERVER=nginx (or httpd) to build it with its build script and serve the output as static files",
				filepath.Join(c.ProjectPath, "package.json")), nil
		}
		s.Node = true
		return s, "", nil
	}
	if c.Server != "" {
		return s, "", nil
	}
	// Without BP_WEB_SERVER, a Node.js entry point says the app is a Node.js app whose
	// nginx.conf or index.html belongs to it (slipway/nodejs takes it).
	entries := nodeEntryPoints
	if lp := strings.TrimSpace(env.Config(platform, "BP_LAUNCHPOINT", "")); lp != "" {
		entries = append([]string{lp}, entries...)
	}
	node := ""
	for _, e := range entries {
		if exists(filepath.Join(appDir, e)) {
			node = e
			break
		}
	}
	if s.Server != "" {
		if node != "" {
			return s, fmt.Sprintf("slipway/web-server: %s makes the app a Node.js app; set BP_WEB_SERVER=%s to serve it as static files with its %s", node, s.Server, s.UserConf), nil
		}
		return s, "", nil
	}
	// A folder of HTML with no setting: index.html in the web root.
	var roots []string
	if c.Root != "" {
		roots = []string{c.Root}
	} else {
		roots = []string{"public", "."}
	}
	for _, r := range roots {
		if !exists(filepath.Join(appDir, r, "index.html")) {
			continue
		}
		if node != "" {
			return s, fmt.Sprintf("slipway/web-server: %s has index.html, but %s makes it a Node.js app; set BP_WEB_SERVER=nginx to serve it as static files", r, node), nil
		}
		s.Server, s.Why = ServerNginx, filepath.Join(r, "index.html")+" (nginx is the default)"
		return s, "", nil
	}
	return s, "slipway/web-server: no BP_WEB_SERVER, no nginx.conf or httpd.conf and no index.html in public/ or the app", nil
}

// Detect passes for a static site — BP_WEB_SERVER set, an nginx.conf or httpd.conf, or
// index.html in the web root — and, with BP_WEB_SERVER, for a Node.js app whose build
// output it serves: then it requires node-static-build, which slipway/nodejs provides
// in its [[or]] plan, so only a group with slipway/nodejs before it passes
// (buildpack.md, Order Resolution).
func Detect(_ context.Context, dc sdk.DetectContext) (sdk.DetectResult, error) {
	c, err := readConfig(dc.Env, dc.PlatformDir, dc.AppDir)
	if err != nil {
		return sdk.DetectResult{}, err
	}
	s, reason, err := classify(dc.AppDir, c, dc.Env, dc.PlatformDir)
	if err != nil {
		return sdk.DetectResult{}, err
	}
	if reason != "" {
		return sdk.Fail("%s", reason), nil
	}
	var plan sdk.BuildPlan
	if s.Node {
		plan.Requires = []sdk.Require{{Name: PlanNodeStaticBuild, Metadata: map[string]any{"build": true}}}
	}
	return sdk.Pass(plan), nil
}
