package integration

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/slipway/slipway/api"
	"github.com/slipway/slipway/buildpack"
	"github.com/slipway/slipway/launch"
	"github.com/slipway/slipway/lifecycle"
)

// project is one app being built on the host: its own copy of the app, layers and platform dirs.
type project struct {
	t                             *testing.T
	app, layers, platform, config string
	env                           map[string]string
}

func testdataApp(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(filepath.Dir(file)), "testdata", "apps", name)
}

func newProject(t *testing.T, app string) *project {
	t.Helper()
	root := t.TempDir()
	p := &project{t: t, app: filepath.Join(root, "workspace"), layers: filepath.Join(root, "layers"),
		platform: filepath.Join(root, "platform"), config: filepath.Join(root, "build-config"),
		env: map[string]string{"BP_NODE_SOURCE": "npm"}}
	if app != "" {
		if out, err := exec.Command("cp", "-a", testdataApp(app), p.app).CombinedOutput(); err != nil {
			t.Fatalf("copy app: %v\n%s", err, out)
		}
	} else if err := os.MkdirAll(p.app, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{p.layers, p.platform} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// writePlatformEnv writes p.env as <platform>/env files, as a platform does for --env
// (platform.md, User-Provided Variables).
func (p *project) writePlatformEnv() {
	dir := filepath.Join(p.platform, "env")
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		p.t.Fatal(err)
	}
	for k, v := range p.env {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v), 0o644); err != nil {
			p.t.Fatal(err)
		}
	}
}

func order(ids ...string) buildpack.Order {
	var g buildpack.Group
	for _, id := range ids {
		g.Group = append(g.Group, buildpack.GroupElement{ID: id, Version: "0.1.0", Optional: len(ids) > 1})
	}
	return buildpack.Order{g}
}

func hostEnviron() []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
}

// detect runs the detector over order (buildpack.md, Order Resolution).
func (p *project) detect(o buildpack.Order) (*lifecycle.DetectResult, string, error) {
	p.writePlatformEnv()
	plat, _ := api.ForPlatform("0.15")
	var log bytes.Buffer
	res, err := lifecycle.Detect(context.Background(), lifecycle.DetectInputs{
		AppDir: p.app, PlatformDir: p.platform, BuildpacksDir: buildpacksDir, BuildConfigDir: p.config,
		Order: o, Target: buildpack.Target{OS: "linux", Arch: "amd64"}, Platform: plat,
		Environ: hostEnviron(), Log: &log,
	})
	return res, log.String(), err
}

// build runs detect then build (buildpack.md, Build) and returns the metadata and output.
func (p *project) build(o buildpack.Order) (*launch.Metadata, string, error) {
	p.t.Helper()
	det, log, err := p.detect(o)
	if err != nil {
		return nil, log, err
	}
	plat, _ := api.ForPlatform("0.15")
	var out bytes.Buffer
	md, err := lifecycle.Build(context.Background(), lifecycle.BuildInputs{
		AppDir: p.app, LayersDir: p.layers, PlatformDir: p.platform, BuildpacksDir: buildpacksDir,
		BuildConfigDir: p.config, Group: det.Group.Group, Plan: det.Plan,
		Target: buildpack.Target{OS: "linux", Arch: "amd64"}, Platform: plat,
		Environ: hostEnviron(), Out: &out,
	})
	return md, out.String(), err
}

func (p *project) mustBuild(o buildpack.Order) (*launch.Metadata, string) {
	p.t.Helper()
	md, out, err := p.build(o)
	if err != nil {
		p.t.Fatalf("build: %v\n%s", err, out)
	}
	return md, out
}

func writeApp(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
