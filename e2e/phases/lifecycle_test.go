package phases

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/slipway/slipway/internal/e2ekit"
	"github.com/slipway/slipway/internal/testimages"
	"github.com/slipway/slipway/launch"
	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/registry"
	"github.com/slipway/slipway/tomlfile"
)

// The same binary is a CNB lifecycle: invoked as /cnb/lifecycle/detector, builder and exporter (argv0)
// with Platform API flags and CNB_* variables, as kpack or Tekton would run it
// (platform.md, Platform API Compatibility; platform.md, detector; platform.md, builder). Runs as a non-root user, as the phases require (platform.md, Build Image).
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
	if out, err := exec.Command("cp", "-r", filepath.Join(e2ekit.RepoRoot, "e2e", "testdata", "buildpacks", "hello"), bp).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	e2ekit.WriteFile(t, filepath.Join(dirs["workspace"], "hello.txt"), "Phases")
	order := filepath.Join(root, "order.toml")
	e2ekit.WriteFile(t, order, "[[order]]\n[[order.group]]\nid = \"test/hello\"\nversion = \"1.0.0\"\n")
	for _, d := range []string{dirs["workspace"], dirs["layers"]} {
		if err := os.Chown(d, 1000, 1000); err != nil {
			t.Fatal(err)
		}
	}
	for _, phase := range []string{"detector", "builder", "exporter"} {
		if err := os.Symlink(e2ekit.SlipwayBin, filepath.Join(dirs["lifecycle"], phase)); err != nil {
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
	var group platform.GroupFile
	if err := tomlfile.Read(filepath.Join(dirs["layers"], "group.toml"), &group); err != nil {
		t.Fatal(err)
	}
	if len(group.Group) != 1 || group.Group[0].ID != "test/hello" || group.Group[0].API != "0.12" {
		t.Fatalf("group.toml: %+v", group)
	}
	// Environment form (platform.md, Usage (default locations)): CNB_* variables instead of flags.
	out = runPhase("builder", []string{"CNB_APP_DIR=" + dirs["workspace"], "CNB_LAYERS_DIR=" + dirs["layers"],
		"CNB_PLATFORM_DIR=" + dirs["platform"], "CNB_BUILDPACKS_DIR=" + dirs["buildpacks"]})
	if !strings.Contains(out, "building greeter for Phases as uid 1000") {
		t.Errorf("builder output: %s", out)
	}
	var md launch.Metadata
	if err := tomlfile.Read(filepath.Join(dirs["layers"], "config", "metadata.toml"), &md); err != nil {
		t.Fatal(err)
	}
	if md.BuildpackDefaultProcessType != "web" || len(md.Processes) != 2 {
		t.Fatalf("metadata.toml: %+v", md)
	}
	if _, err := os.Stat(filepath.Join(dirs["layers"], "test_hello", "greeter", "bin", "greet")); err != nil {
		t.Fatalf("layer not written: %v", err)
	}

	// exporter (platform.md, exporter): the run image comes from analyzed.toml, the image goes
	// to every <image> argument, report.toml records the digest.
	addr := e2ekit.StartRegistry(t)
	_, runImg := testimages.BuildAndRun(t)
	ro := registry.Options{Insecure: []string{addr}}
	runDigest, err := registry.Write(context.Background(), addr+"/stacks/run:1", runImg, ro)
	if err != nil {
		t.Fatal(err)
	}
	e2ekit.WriteFile(t, filepath.Join(dirs["layers"], "analyzed.toml"), fmt.Sprintf("[run-image]\nreference = %q\nimage = %q\n",
		addr+"/stacks/run@"+runDigest.String(), addr+"/stacks/run:1"))
	launcher := filepath.Join(e2ekit.RepoRoot, "internal", "launcherbin", "launcher")
	exp := exec.Command(filepath.Join(dirs["lifecycle"], "exporter"), "-app", dirs["workspace"], "-layers", dirs["layers"],
		"-launcher", launcher, "-insecure-registry", addr, addr+"/apps/phases:1", addr+"/apps/phases:latest")
	exp.Env = []string{"PATH=/usr/bin:/bin", "CNB_PLATFORM_API=0.15", "CNB_USER_ID=1000", "CNB_GROUP_ID=1000"}
	if out, err := exp.CombinedOutput(); err != nil {
		t.Fatalf("exporter: %v\n%s", err, out)
	}
	var report platform.Report
	if err := tomlfile.Read(filepath.Join(dirs["layers"], "report.toml"), &report); err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{"1", "latest"} {
		img, err := registry.Image(context.Background(), addr+"/apps/phases:"+tag, ro)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate.Image(img); err != nil {
			t.Fatalf("validate.Image: %v", err)
		}
		d, _ := img.Digest()
		if d.String() != report.Image.Digest {
			t.Errorf("tag %s is %s, report.toml says %s", tag, d, report.Image.Digest)
		}
		cfg, _ := img.ConfigFile()
		if len(cfg.Config.Entrypoint) != 1 || cfg.Config.Entrypoint[0] != "/cnb/process/web" {
			t.Errorf("entrypoint %v", cfg.Config.Entrypoint)
		}
	}
}
