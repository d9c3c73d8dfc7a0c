package cli

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

func runMain(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	code := Main(context.Background(), args, &out, &out)
	return out.String(), code
}

// platform.md, Platform API Compatibility: CNB_PLATFORM_API is read first; an unsupported one exits 11.
func TestPhaseRejectsUnsupportedPlatformAPI(t *testing.T) {
	t.Setenv("CNB_PLATFORM_API", "0.3")
	out, code := runMain(t, "/cnb/lifecycle/detector")
	if code != 11 || !strings.Contains(out, "platform API 0.3 is not supported") {
		t.Fatalf("exit %d: %s", code, out)
	}
}

// platform.md, Build Image (reference lifecycle): detector and builder refuse to run as root.
func TestPhaseRefusesRoot(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root")
	}
	for _, args := range [][]string{{"/cnb/lifecycle/builder"}, {"slipway", "lifecycle", "detector"}} {
		out, code := runMain(t, args...)
		if code != 1 || !strings.Contains(out, "refusing to run as root") {
			t.Fatalf("%v: exit %d: %s", args, code, out)
		}
	}
}

func TestPhaseArgumentErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown phase", []string{"slipway", "lifecycle", "extender"}, 1, `unknown phase "extender"`},
		// The reference lifecycle's flag set exits 2 on a flag it does not define.
		{"unknown flag", []string{"/cnb/lifecycle/detector", "-nope"}, 2, "flag provided but not defined: -nope"},
		{"stray argument", []string{"/cnb/lifecycle/detector", "extra"}, 3, `unexpected arguments ["extra"]`},
		{"exec env with slash", []string{"/cnb/lifecycle/detector", "-exec-env", "a/b"}, 3, "must not contain '/'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runMain(t, tc.args...)
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d (want %d): %s", code, tc.code, out)
			}
		})
	}
}

func TestVersionAndHelp(t *testing.T) {
	out, code := runMain(t, "slipway", "version")
	if code != 0 || !strings.Contains(out, "Platform APIs:  0.7") {
		t.Fatalf("version: %d %s", code, out)
	}
	for _, cmd := range []string{"build", "images", "inspect", "save", "rmi", "lifecycle", "version"} {
		out, code := runMain(t, "slipway", cmd, "--help")
		if code != 0 || !strings.Contains(out, "slipway "+cmd) {
			t.Errorf("%s --help: exit %d, no example:\n%s", cmd, code, out)
		}
	}
}

func TestUserErrorsHaveNoStackTrace(t *testing.T) {
	t.Setenv("SLIPWAY_LAUNCHER", os.Args[0]) // any existing file: the build fails before export
	out, code := runMain(t, "slipway", "--store", t.TempDir(), "inspect", "missing-image")
	if code == 0 || !strings.Contains(out, "missing-image") || strings.Contains(out, "goroutine") {
		t.Fatalf("exit %d: %s", code, out)
	}
	out, code = runMain(t, "slipway", "build", "x", "--path", "/does/not/exist", "--builder", "b.toml", "--store", t.TempDir(), "--work-dir", t.TempDir())
	if code == 0 || !strings.Contains(out, "/does/not/exist") {
		t.Fatalf("exit %d: %s", code, out)
	}
}
