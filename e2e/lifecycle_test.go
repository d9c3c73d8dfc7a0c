package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway/slipway/buildpack"
	"github.com/slipway/slipway/launch"
)

// The same binary is a CNB lifecycle: invoked as /cnb/lifecycle/detector and builder (argv0)
// with Platform API flags and CNB_* variables, as kpack or Tekton would run it
// (cnb-spec.md §4.1, §4.7, §4.10). Runs as a non-root user, as the phases require (§4.3).
func TestPhasesByArgv0AsPlatformWouldRunThem(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to switch to the CNB user with setpriv")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv (util-linux) not installed")
	}
	// Not t.TempDir(): its parent is private to root, and the phases run as uid 1000.
	root, err := os.MkdirTemp("", "slipway-phases-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	os.Chmod(root, 0o755)
	dirs := map[string]string{}
	for _, d := range []string{"buildpacks", "workspace", "layers", "platform/env", "lifecycle"} {
		dirs[d] = filepath.Join(root, d)
		if err := os.MkdirAll(dirs[d], 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bp := filepath.Join(dirs["buildpacks"], "test_hello", "1.0.0")
	os.MkdirAll(filepath.Dir(bp), 0o755)
	if out, err := exec.Command("cp", "-r", filepath.Join(repoRoot, "e2e", "testdata", "buildpacks", "hello"), bp).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	writeFile(t, filepath.Join(dirs["workspace"], "hello.txt"), "Phases")
	order := filepath.Join(root, "order.toml")
	writeFile(t, order, "[[order]]\n[[order.group]]\nid = \"test/hello\"\nversion = \"1.0.0\"\n")
	for _, d := range []string{dirs["workspace"], dirs["layers"]} {
		if err := os.Chown(d, 1000, 1000); err != nil {
			t.Fatal(err)
		}
	}
	for _, phase := range []string{"detector", "builder"} {
		if err := os.Symlink(slipwayBin, filepath.Join(dirs["lifecycle"], phase)); err != nil {
			t.Fatal(err)
		}
	}
	runPhase := func(phase string, env []string, args ...string) string {
		t.Helper()
		argv := append([]string{"--reuid=1000", "--regid=1000", "--clear-groups", filepath.Join(dirs["lifecycle"], phase)}, args...)
		cmd := exec.Command(setpriv, argv...)
		cmd.Env = append([]string{"PATH=/usr/bin:/bin", "CNB_PLATFORM_API=0.15", "HOME=/tmp"}, env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", phase, err, out)
		}
		return string(out)
	}
	// Flags form.
	out := runPhase("detector", nil, "-app", dirs["workspace"], "-layers", dirs["layers"], "-platform", dirs["platform"],
		"-buildpacks", dirs["buildpacks"], "-order", order)
	if !strings.Contains(out, "test/hello 1.0.0") {
		t.Errorf("detector output: %s", out)
	}
	var group buildpack.GroupFile
	if err := buildpack.DecodeTOMLFile(filepath.Join(dirs["layers"], "group.toml"), &group); err != nil {
		t.Fatal(err)
	}
	if len(group.Group) != 1 || group.Group[0].ID != "test/hello" || group.Group[0].API != "0.12" {
		t.Fatalf("group.toml: %+v", group)
	}
	// Environment form (cnb-spec.md §4.4): CNB_* variables instead of flags.
	out = runPhase("builder", []string{"CNB_APP_DIR=" + dirs["workspace"], "CNB_LAYERS_DIR=" + dirs["layers"],
		"CNB_PLATFORM_DIR=" + dirs["platform"], "CNB_BUILDPACKS_DIR=" + dirs["buildpacks"]})
	if !strings.Contains(out, "building greeter for Phases as uid 1000") {
		t.Errorf("builder output: %s", out)
	}
	var md launch.Metadata
	if err := buildpack.DecodeTOMLFile(filepath.Join(dirs["layers"], "config", "metadata.toml"), &md); err != nil {
		t.Fatal(err)
	}
	if md.BuildpackDefaultProcessType != "web" || len(md.Processes) != 2 {
		t.Fatalf("metadata.toml: %+v", md)
	}
	if _, err := os.Stat(filepath.Join(dirs["layers"], "test_hello", "greeter", "bin", "greet")); err != nil {
		t.Fatalf("layer not written: %v", err)
	}
}
