package launch_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/slipway/slipway/launch"
)

// Heroku runtime: with a classic buildpack in the image, <app>/.profile.d/*.sh are sourced in
// name order with HOME = the app dir, after the layers' profile.d (Cloud Foundry's
// DEPS_DIR/<idx>/profile.d) and before <app>/.profile; other files there are not sourced.
func TestLaunchClassicProfileD(t *testing.T) {
	f := newFixture(t)
	f.write(t, "classic_deps/deps/profile.d/dep.sh", `export PROF="${PROF}deps"`, 0o644)
	f.write(t, filepath.Join(f.app, ".profile.d", "b.sh"), `export PROF="${PROF}+b"`, 0o644)
	f.write(t, filepath.Join(f.app, ".profile.d", "a.sh"), `export PROF="${PROF}+a:$HOME"`, 0o644)
	f.write(t, filepath.Join(f.app, ".profile.d", "notes.txt"), `export PROF="${PROF}+txt"`, 0o644)
	f.write(t, filepath.Join(f.app, ".profile"), `export PROF="${PROF}+profile"`, 0o644)
	md := launch.Metadata{
		Buildpacks:                  []launch.Buildpack{{ID: "classic/deps", Version: "sha256-0123456789ab", API: "0.8"}},
		Processes:                   []launch.Process{{Type: "web", Command: []string{`echo "$PROF HOME=$HOME"`}, BuildpackID: "classic/deps", Default: true}},
		BuildpackDefaultProcessType: "web",
	}
	x, err := f.launcher(md).Prepare(context.Background(), "launcher", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "deps+a:" + f.app + "+b+profile HOME=" + f.app + "\n"
	if got := run(t, x); got != want {
		t.Errorf("output = %q, want %q", got, want)
	}

	// Without a classic buildpack the app's .profile.d is not the launcher's business.
	md.Buildpacks[0].ID, md.Processes[0].BuildpackID = "example/legacy", "example/legacy"
	x, err = f.launcher(md).Prepare(context.Background(), "launcher", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := run(t, x); got != "+profile HOME="+homeOf(x)+"\n" {
		t.Errorf("non-classic output = %q", got)
	}
}

func homeOf(x *launch.Execution) string {
	for _, kv := range x.Env {
		if len(kv) > 5 && kv[:5] == "HOME=" {
			return kv[5:]
		}
	}
	return ""
}
