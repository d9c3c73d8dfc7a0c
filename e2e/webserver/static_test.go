package webserver

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipway/slipway/internal/e2ekit"
)

// A folder of HTML with no setting at all is served by nginx on $PORT, gzipped, with
// nginx's access log on the container's output; editing a page rebuilds with only the
// app layer changed.
func testStaticSiteNginx(t *testing.T, e *e2ekit.Env, builder string) {
	app := filepath.Join(t.TempDir(), "site")
	e2ekit.WriteFile(t, filepath.Join(app, "public", "index.html"), "<h1>hello from a folder of HTML</h1>\n")
	e2ekit.WriteFile(t, filepath.Join(app, "public", "style.css"), "body { color: #333; }\n"+strings.Repeat("p { margin: 0 auto; }\n", 40))
	e2ekit.WriteFile(t, filepath.Join(app, "README.md"), "not served\n")
	args := buildArgs("site", app, builder)
	start := time.Now()
	out := e.MustSlipway(args...)
	t.Logf("cold build: %s", time.Since(start).Round(time.Millisecond))
	e2ekit.MustContain(t, out, "Server: nginx (public/index.html (nginx is the default))", "Installed nginx into layer nginx",
		"web root public/", "Configuration test passed (nginx -t)", "Successfully built image site")
	if got := layersOf(t, e, "site", "slipway/web-server"); got != "nginx web-config" {
		t.Errorf("launch layers %q, want nginx web-config", got)
	}
	first := e2ekit.ImageLayers(t, e.Store, "site")
	c := serve(t, e, "site")
	expect(t, c, request{path: "/"}, 200, "hello from a folder of HTML")
	css := expect(t, c, request{path: "/style.css", header: map[string]string{"Accept-Encoding": "gzip"}}, 200)
	if css.header.Get("Content-Encoding") != "gzip" || !strings.HasPrefix(css.header.Get("Content-Type"), "text/css") {
		t.Errorf("style.css: Content-Encoding %q, Content-Type %q; want gzip, text/css", css.header.Get("Content-Encoding"), css.header.Get("Content-Type"))
	}
	expect(t, c, request{path: "/README.md"}, 404)
	expect(t, c, request{path: "/missing"}, 404)
	if logs := c.Logs(); !strings.Contains(logs, "GET /style.css") {
		t.Errorf("nginx's access log is not on the container's output:\n%s", logs)
	}

	e2ekit.WriteFile(t, filepath.Join(app, "public", "index.html"), "<h1>edited</h1>\n")
	start = time.Now()
	out = e.MustSlipway(args...)
	t.Logf("rebuild after editing a page: %s", time.Since(start).Round(time.Millisecond))
	e2ekit.MustContain(t, out, "Reusing the nginx layer")
	second := e2ekit.ImageLayers(t, e.Store, "site")
	if len(first) != len(second) {
		t.Fatalf("layer count %d → %d", len(first), len(second))
	}
	if changed := changedLayers(first, second); len(changed) != 1 {
		t.Errorf("changed layers %v of %d; want exactly the app layer", changed, len(first))
	}
}
