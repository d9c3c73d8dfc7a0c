package project

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway/slipway/buildpack"
)

// extensions/project-descriptor.md: an inline [script] buildpack becomes a real buildpack whose bin/build runs
// the script with the declared shell and whose bin/detect always passes.
func TestMaterializeScript(t *testing.T) {
	tests := []struct {
		name        string
		ref         BuildpackRef
		wantVersion string
		wantOut     string
	}{
		{
			name:        "default shell and version",
			ref:         BuildpackRef{ID: "example/inline", Script: &Script{API: "0.12", Inline: "echo built-$((1+1))"}},
			wantVersion: "0.0.0",
			wantOut:     "built-2\n",
		},
		{
			name:        "bash and explicit version",
			ref:         BuildpackRef{ID: "example/bash", Version: "1.2.3", Script: &Script{API: "0.10", Inline: "arr=(a b); echo ${arr[1]}", Shell: "/bin/bash"}},
			wantVersion: "1.2.3",
			wantOut:     "b\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			bpDir, err := MaterializeScript(tc.ref, dir)
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(dir, buildpack.EscapedID(tc.ref.ID), tc.wantVersion); bpDir != want {
				t.Errorf("dir = %s, want %s", bpDir, want)
			}
			d, err := buildpack.ReadDescriptor(bpDir)
			if err != nil {
				t.Fatal(err)
			}
			if d.Buildpack.ID != tc.ref.ID || d.Buildpack.Version != tc.wantVersion || d.API != tc.ref.Script.API {
				t.Errorf("descriptor = %+v", d)
			}
			out, err := exec.Command(filepath.Join(bpDir, "bin", "build")).CombinedOutput()
			if err != nil {
				t.Fatalf("bin/build: %v: %s", err, out)
			}
			if string(out) != tc.wantOut {
				t.Errorf("bin/build output %q, want %q", out, tc.wantOut)
			}
			if out, err := exec.Command(filepath.Join(bpDir, "bin", "detect")).CombinedOutput(); err != nil {
				t.Errorf("bin/detect: %v: %s", err, out)
			}
		})
	}
}

func TestMaterializeScriptErrors(t *testing.T) {
	tests := []struct {
		name string
		ref  BuildpackRef
		want string
	}{
		{"no script", BuildpackRef{ID: "a"}, "has no [script]"},
		{"no api", BuildpackRef{ID: "a", Script: &Script{Inline: "x"}}, "needs api"},
		{"dot-dot id", BuildpackRef{ID: "..", Script: &Script{API: "0.12", Inline: "x"}}, "not a valid path component"},
		{"path in version", BuildpackRef{ID: "a", Version: "../../x", Script: &Script{API: "0.12", Inline: "x"}}, "not a valid path component"},
		{"bad version", BuildpackRef{ID: "a", Version: "01.0.0", Script: &Script{API: "0.12", Inline: "x"}}, "not a semantic version"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := MaterializeScript(tc.ref, dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			if entries, _ := os.ReadDir(filepath.Dir(dir)); len(entries) == 0 {
				t.Fatal("temp parent vanished")
			}
		})
	}
}
