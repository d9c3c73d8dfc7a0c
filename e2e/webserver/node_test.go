package webserver

import (
	"archive/tar"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipway/slipway/internal/e2ekit"
	"github.com/slipway/slipway/internal/npmmirror"
)

// spaBuild is a front-end build script in plain node (no dependencies to download): it
// writes build/index.html from the public/ template and bundles src/ into build/static.
const spaBuild = `const fs = require('fs');
fs.mkdirSync('build/static', { recursive: true });
fs.writeFileSync('build/static/app.js', fs.readFileSync('src/App.js'));
const html = fs.readFileSync('public/index.html', 'utf8').replace('%SCRIPT%', '<script src="/static/app.js"></script>');
fs.writeFileSync('build/index.html', html);
console.log('spa build: wrote build/ with node ' + process.version);
`

// imageFiles lists the paths in the image's layers that contain any of subs.
func imageFiles(t *testing.T, e *e2ekit.Env, image string, subs ...string) []string {
	t.Helper()
	img, err := e.OpenStore().Image(image)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range ls {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range subs {
				if strings.Contains(h.Name, s) {
					out = append(out, h.Name)
					break
				}
			}
		}
		rc.Close()
	}
	return out
}

// The front-end flow: a React-style app whose package.json build script writes
// build/ is built by slipway/nodejs and served by nginx with push-state routing; the image
// holds the built files only — no node_modules, no Node.js, no sources. Editing a source
// file rebuilds with only the app layer changed.
func testNodeBuildServedByNginx(t *testing.T, e *e2ekit.Env, builder string) {
	reg := npmmirror.Start(t)
	app := filepath.Join(t.TempDir(), "spa")
	e2ekit.WriteFile(t, filepath.Join(app, "package.json"), `{"name": "spa", "version": "1.0.0", "private": true,
  "scripts": {"build": "node scripts/build.js", "start": "node server.js"}}
`)
	e2ekit.WriteFile(t, filepath.Join(app, "scripts", "build.js"), spaBuild)
	e2ekit.WriteFile(t, filepath.Join(app, "src", "App.js"), "document.title = 'hello from the React-style app';\n")
	e2ekit.WriteFile(t, filepath.Join(app, "public", "index.html"), "<!doctype html><div id=\"root\">spa shell</div>%SCRIPT%\n")
	args := buildArgs("spa", app, builder, "BP_WEB_SERVER=nginx", "BP_WEB_SERVER_ENABLE_PUSH_STATE=true",
		"BP_NODE_SOURCE=npm", "BP_NPM_REGISTRY="+reg)
	start := time.Now()
	out := e.MustSlipway(args...)
	t.Logf("cold build: %s", time.Since(start).Round(time.Millisecond))
	e2ekit.MustContain(t, out, "Building for slipway/web-server (node-static-build)", `Running npm script "build"`, "spa build: wrote build/ with node v",
		"Serving the output of the Node.js build", "Server: nginx (BP_WEB_SERVER=nginx)", "web root build/; push-state routing",
		"Removed from the image what the site does not serve: package.json, public, scripts, src")
	if got := layersOf(t, e, "spa", "slipway/nodejs"); got != "" {
		t.Errorf("slipway/nodejs left launch layers %q in the image", got)
	}
	if got := layersOf(t, e, "spa", "slipway/web-server"); got != "nginx web-config" {
		t.Errorf("web-server launch layers %q", got)
	}
	if got := imageFiles(t, e, "spa", "node_modules", "bin/node", "workspace/src", "workspace/package.json"); len(got) > 0 {
		t.Errorf("the image holds %v", got)
	}
	if got := imageFiles(t, e, "spa", "workspace/build/static/app.js"); len(got) != 1 {
		t.Errorf("the image lacks the built files: %v", got)
	}
	first := e2ekit.ImageLayers(t, e.Store, "spa")

	c := serve(t, e, "spa")
	expect(t, c, request{path: "/"}, 200, "spa shell", `<script src="/static/app.js">`)
	expect(t, c, request{path: "/static/app.js"}, 200, "hello from the React-style app")
	expect(t, c, request{path: "/deep/link"}, 200, "spa shell")

	e2ekit.WriteFile(t, filepath.Join(app, "src", "App.js"), "document.title = 'edited';\n")
	out = e.MustSlipway(args...)
	e2ekit.MustContain(t, out, "Reusing Node.js", "Reusing the nginx layer")
	second := e2ekit.ImageLayers(t, e.Store, "spa")
	if len(first) != len(second) {
		t.Fatalf("layer count %d → %d", len(first), len(second))
	}
	if changed := changedLayers(first, second); len(changed) != 1 {
		t.Errorf("changed layers %v of %d; want exactly the app layer", changed, len(first))
	}
}
