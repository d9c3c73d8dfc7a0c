package sandbox

import (
	"archive/tar"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway/slipway/internal/e2ekit"
	"github.com/slipway/slipway/registry"
)

// Held (issue "The sandbox must hold"): a secret given with --env reaches the buildpacks
// (as the platform's env file, buildpack.md, Provided by the Platform) but not the image;
// CNB_REGISTRY_AUTH, given to slipway for the push, is nowhere in the sandbox and nowhere in
// the published image.
func TestSecretsStayOutOfImagesAndSandbox(t *testing.T) {
	e := e2ekit.NewEnv(t)
	reg := e2ekit.StartRegistry(t)
	const token, password = "tok-secret-5e1a", "auth-secret-91c2"
	auth, _ := json.Marshal(map[string]string{reg: "Basic " + base64.StdEncoding.EncodeToString([]byte("ci:"+password))})
	t.Setenv(registry.AuthEnv, string(auth))
	bp := evilBuildpack(e, "evil/secrets", "1.0.0", fmt.Sprintf(`echo "token-file: $(cat /platform/env/API_TOKEN 2>/dev/null || echo absent)"
if env | grep -q %[1]s; then echo "auth-env: visible"; else echo "auth-env: hidden"; fi
if grep -rqs "$(cat /platform/env/API_TOKEN)" /platform /cnb /etc; then echo "control: found"; fi
# The needle is assembled at run time: this script itself (under /cnb) must not match.
needle=%[2]q; needle="${needle}%[3]s"
if grep -rqs "$needle" /platform /cnb /etc /workspace /layers /home /tmp /proc/self/environ /proc/1/environ; then echo "auth-files: found"; else echo "auth-files: none"; fi
mkdir -p "$CNB_LAYERS_DIR/app"
echo app > "$CNB_LAYERS_DIR/app/file"
printf '[types]\nlaunch = true\n' > "$CNB_LAYERS_DIR/app.toml"
`, registry.AuthEnv, password[:8], password[8:])+webProcess)
	ref := reg + "/secrets:latest"
	out := e.MustSlipway("build", ref, "--publish", "--insecure-registry", reg, "--path", e2ekit.App("hello"),
		"--builder", e.Builder, "--buildpack", bp, "--env", "API_TOKEN="+token)
	for _, want := range []string{"token-file: " + token, "auth-env: hidden", "control: found", "auth-files: none"} {
		if !strings.Contains(out, want) {
			t.Errorf("the buildpack did not report %q:\n%s", want, out)
		}
	}

	img, err := registry.Image(context.Background(), ref, registry.Options{Insecure: []string{reg}})
	if err != nil {
		t.Fatalf("read back %s: %v", ref, err)
	}
	if found := e2ekit.ImageHolds(t, img, token, password); found != "" {
		t.Errorf("the published image holds %q", found)
	}
}

// Held: symlinks in the app dir that point at host files stay links. Buildpacks see the
// link, not the host file behind it, and the image's app layer carries the link itself.
func TestAppSymlinksStayLinks(t *testing.T) {
	e := e2ekit.NewEnv(t)
	host := t.TempDir()
	const secret = "host-file-4b7d"
	e2ekit.WriteFile(t, filepath.Join(host, "secret.txt"), secret)
	app := e2ekit.CopyApp(t, "hello")
	links := map[string]string{"secret": filepath.Join(host, "secret.txt"), "hostdir": host}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(app, name)); err != nil {
			t.Fatal(err)
		}
	}
	bp := evilBuildpack(e, "evil/links", "1.0.0", `echo "via-link: $(cat /workspace/secret 2>&1)"
echo "via-dir: $(cat /workspace/hostdir/secret.txt 2>&1)"
`+webProcess)
	out := e.MustSlipway("build", "links", "--path", app, "--builder", e.Builder, "--buildpack", bp)
	if strings.Contains(out, secret) || !strings.Contains(out, "via-link: cat: /workspace/secret: No such file") {
		t.Errorf("a buildpack read the host file through the app's links:\n%s", out)
	}
	img := e2ekit.StoredImage(t, e.Store, "links")
	if found := e2ekit.ImageHolds(t, img, secret); found != "" {
		t.Errorf("the image holds the host file's content")
	}
	seen := map[string]string{}
	e2ekit.WalkImage(t, img, func(h *tar.Header, _ io.Reader) {
		if name := strings.TrimPrefix(h.Name, "/"); name == "workspace/secret" || name == "workspace/hostdir" {
			seen[filepath.Base(name)] = fmt.Sprintf("type %c -> %s", h.Typeflag, h.Linkname)
		}
	})
	for name, target := range links {
		if want := fmt.Sprintf("type %c -> %s", tar.TypeSymlink, target); seen[name] != want {
			t.Errorf("workspace/%s in the image: %q, want %q", name, seen[name], want)
		}
	}
}
