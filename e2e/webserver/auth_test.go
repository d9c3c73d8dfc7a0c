package webserver

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipway/slipway/internal/e2ekit"
)

// httpd with the buildpack's configuration: push-state routing, the HTTPS redirect
// behind a TLS-terminating proxy, and basic authentication from a binding of type
// htpasswd whose file is read at launch, never copied into the image. A binding without
// .htpasswd fails the build; a container started without the binding says what to mount.
func testHttpdPushStateHTTPSBasicAuth(t *testing.T, e *e2ekit.Env, builder string) {
	app := filepath.Join(t.TempDir(), "app")
	e2ekit.WriteFile(t, filepath.Join(app, "public", "index.html"), "<div id=root>spa shell</div>\n")
	binding := filepath.Join(t.TempDir(), "auth")
	e2ekit.WriteFile(t, filepath.Join(binding, "type"), "htpasswd\n")
	env := []string{"BP_WEB_SERVER=httpd", "BP_WEB_SERVER_ENABLE_PUSH_STATE=true", "BP_WEB_SERVER_FORCE_HTTPS=true"}
	args := append(buildArgs("spa-httpd", app, builder, env...), "--binding", "auth="+binding)

	bad, code := e.Slipway(args...)
	if code == 0 {
		t.Fatalf("built with a binding that has no .htpasswd:\n%s", bad)
	}
	e2ekit.MustContain(t, bad, "binding auth (type htpasswd) has no .htpasswd file")

	e2ekit.WriteFile(t, filepath.Join(binding, ".htpasswd"), htpasswdLine("alice", "s3cret"))
	out := e.MustSlipway(args...)
	e2ekit.MustContain(t, out, "Server: httpd (BP_WEB_SERVER=httpd)", "push-state routing (BP_WEB_SERVER_ENABLE_PUSH_STATE)",
		"HTTPS redirect (BP_WEB_SERVER_FORCE_HTTPS)", "basic authentication (binding auth; needed at launch too)", "Configuration test passed (apache2 -t)")

	archive := filepath.Join(t.TempDir(), "image.tar")
	e.MustSlipway("save", "spa-httpd", "-o", archive)
	missing := e2ekit.PodmanServe(t, archive, "localhost/spa-httpd")
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(missing.Logs(), "no binding of type htpasswd") {
		if time.Now().After(deadline) {
			t.Fatalf("started without the htpasswd binding:\n%s", missing.Logs())
		}
		time.Sleep(300 * time.Millisecond)
	}

	c := e2ekit.PodmanServe(t, archive, "localhost/spa-httpd", "-v", binding+":/platform/bindings/auth:ro")
	https := map[string]string{"X-Forwarded-Proto": "https"}
	expect(t, c, request{path: "/", header: https}, 401)
	expect(t, c, request{path: "/", header: https, user: "alice:wrong"}, 401)
	expect(t, c, request{path: "/", header: https, user: "alice:s3cret"}, 200, "spa shell")
	expect(t, c, request{path: "/deep/link", header: https, user: "alice:s3cret"}, 200, "spa shell")
	redirect := expect(t, c, request{path: "/deep/link?x=1", user: "alice:s3cret"}, 301)
	if loc, want := redirect.header.Get("Location"), fmt.Sprintf("https://127.0.0.1:%d/deep/link?x=1", c.Port); loc != want {
		t.Errorf("redirect to %q, want %q", loc, want)
	}
}
