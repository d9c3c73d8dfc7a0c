package integration

import (
	"errors"
	"strings"
	"testing"

	"github.com/slipway/slipway/internal/npmmirror"

	"github.com/slipway/slipway/lifecycle"
	"github.com/slipway/slipway/platform"
)

// Each failure names its cause and what to do. No package.json is a detect fail whose
// reason reaches the no-group report (platform.md, detector); an invalid one a detect error
// (exit 21); the rest fail bin/build (buildpack.md, Build, builder exit 51).
func TestNodejsErrors(t *testing.T) {
	reg := npmmirror.Start(t)
	cases := []struct {
		name, app string
		code      int
		want      []string
	}{
		{"no package.json", "", platform.CodeDetectFailNoGroup, []string{"slipway/nodejs", "no package.json, server.js, app.js, main.js or index.js in the app directory"}},
		{"invalid package.json", "invalid-json", platform.CodeDetectFailWithError, []string{"package.json", "line 3, column 17"}},
		{"no version satisfies engines", "bad-engines", platform.CodeBuildpackFailed, []string{`no Node.js version satisfies ">=99.1"`, "package.json engines.node", "nearest available versions: 26."}},
		{"lockfile out of sync", "out-of-sync", platform.CodeBuildpackFailed, []string{"npm ci", "in sync", "exit code 1"}},
		{"npm ci fails", "npm-ci-fails", platform.CodeBuildpackFailed, []string{"failing on purpose", "failed with exit code 3"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newProject(t, tc.app)
			p.env["BP_NPM_REGISTRY"] = reg
			_, out, err := p.build(order("slipway/nodejs"))
			if err == nil {
				t.Fatalf("build succeeded:\n%s", out)
			}
			var pe *platform.Error
			if !errors.As(err, &pe) || pe.Code != tc.code {
				t.Errorf("error %v, want exit code %d", err, tc.code)
			}
			var ng *lifecycle.NoGroupError
			if errors.As(err, &ng) {
				out += ng.Error()
			}
			all := err.Error() + "\n" + out
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("error lacks %q:\n%s", w, all)
				}
			}
		})
	}
}

// The Procfile buildpack alone (any language) and over Node.js, where its web process
// replaces the Node.js one (buildpack.md, launch.toml (TOML)).
func TestProcfile(t *testing.T) {
	t.Run("alone", func(t *testing.T) {
		p := newProject(t, "")
		writeApp(t, p.app, "Procfile", "web: ./serve --port $PORT\nworker: ./work\n")
		md, _ := p.mustBuild(order("slipway/nodejs", "slipway/procfile"))
		if md.BuildpackDefaultProcessType != "web" || len(md.Processes) != 2 || md.Processes[0].BuildpackID != "slipway/procfile" {
			t.Fatalf("metadata %+v", md)
		}
		if got := strings.Join(md.Processes[0].Command, " "); got != "sh -c ./serve --port $PORT" {
			t.Errorf("web command %q", got)
		}
	})
	t.Run("over nodejs", func(t *testing.T) {
		p := newProject(t, "yarn-classic")
		p.env["BP_NPM_REGISTRY"] = npmmirror.Start(t)
		p.env["COREPACK_INTEGRITY_KEYS"] = "0"
		writeApp(t, p.app, "Procfile", "web: node index.js --from-procfile\n")
		md, _ := p.mustBuild(order("slipway/nodejs", "slipway/procfile"))
		if len(md.Buildpacks) != 2 || md.BuildpackDefaultProcessType != "web" || md.Processes[0].BuildpackID != "slipway/procfile" {
			t.Fatalf("metadata %+v", md)
		}
	})
	t.Run("malformed", func(t *testing.T) {
		p := newProject(t, "")
		writeApp(t, p.app, "Procfile", "web node server.js\n")
		_, out, err := p.build(order("slipway/procfile"))
		if err == nil || !strings.Contains(out, "Procfile: line 1") {
			t.Fatalf("err %v\n%s", err, out)
		}
	})
}
