package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// platform.md, analyzer; platform.md, restorer; platform.md, rebaser; platform.md, Operations: Build: argument errors of the analyzer, restorer, creator and rebaser exit 3
// before any registry or file is touched.
func TestPlatformPhaseArgumentErrors(t *testing.T) {
	layers := t.TempDir()
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"analyzer without image", []string{"/cnb/lifecycle/analyzer", "-layers", layers}, 3, "received 0 arguments, but expected 1"},
		{"analyzer two images", []string{"/cnb/lifecycle/analyzer", "-layers", layers, "a.example/x", "a.example/y"}, 3, "received 2 arguments, but expected 1"},
		{"analyzer tag on another registry", []string{"/cnb/lifecycle/analyzer", "-layers", layers, "-tag", "b.example/app:2", "a.example/app:1"}, 3, "is not on the registry of a.example/app:1"},
		{"analyzer daemon without a daemon", []string{"/cnb/lifecycle/analyzer", "-layers", layers, "-daemon", "a.example/app"}, 1, "no Docker daemon answers at unix://" + filepath.Join(layers, "none.sock")},
		{"analyzer layout without dir", []string{"/cnb/lifecycle/analyzer", "-layers", layers, "-layout", "a.example/app"}, 3, "-layout needs -layout-dir"},
		{"analyzer extensions", []string{"/cnb/lifecycle/detector", "-layers", layers, "-generated", "/layers/generated"}, 3, "image extensions are not supported"},
		{"exporter run image", []string{"/cnb/lifecycle/exporter", "-layers", layers, "-run-image", "a.example/run", "a.example/app"}, 3, "the run image comes from analyzed.toml"}, {"analyzer without run.toml", []string{"/cnb/lifecycle/analyzer", "-layers", layers, "-run", filepath.Join(layers, "none.toml"), "a.example/app"}, 32, "read run.toml"},
		{"restorer stray argument", []string{"slipway", "lifecycle", "restorer", "-layers", layers, "extra"}, 3, `unexpected arguments ["extra"]`},
		{"restorer without group", []string{"slipway", "lifecycle", "restorer", "-layers", layers}, 42, "group.toml"},
		{"creator without image", []string{"/cnb/lifecycle/creator", "-layers", layers}, 3, "received 0 arguments, but expected 1"},
		{"rebaser without image", []string{"/cnb/lifecycle/rebaser"}, 3, "at least one image argument is required"},
		{"rebaser layout", []string{"/cnb/lifecycle/rebaser", "-layout", "a.example/app"}, 2, "-layout is not a rebaser input"},
		{"rebaser daemon without a daemon", []string{"/cnb/lifecycle/rebaser", "-daemon", "a.example/app"}, 1, "no Docker daemon answers at unix://" + filepath.Join(layers, "none.sock")},
	}
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(layers, "none.sock"))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runMain(t, tc.args...)
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d (want %d): %s", code, tc.code, out)
			}
		})
	}
}
