package inspect

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/slipway/slipway/platform"
)

func withConfig(t *testing.T, labels map[string]string, entrypoint []string) v1.Image {
	t.Helper()
	img, err := random.Image(64, 2)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.Config.Labels = labels
	cfg.Config.Entrypoint = entrypoint
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// platform.md, io.buildpacks.lifecycle.metadata (JSON); platform.md, io.buildpacks.build.metadata (JSON): the summary comes from the lifecycle and build metadata labels.
func TestRead(t *testing.T) {
	img := withConfig(t, map[string]string{
		platform.LabelLifecycleMetadata: `{"runImage":{"image":"run:1","mirrors":["m/run:1"],"reference":"run@sha256:abc","topLayer":"sha256:def"}}`,
		platform.LabelBuildMetadata: `{"buildpacks":[{"id":"a/b","version":"1.0.0"}],` +
			`"processes":[{"type":"web","command":["node"],"args":["server.js"],"buildpackID":"a/b"},{"type":"worker","command":["w"],"args":[],"buildpackID":"a/b"}]}`,
		"org.example": "x",
	}, []string{"/cnb/process/web"})
	info, err := Read(img)
	if err != nil {
		t.Fatal(err)
	}
	if info.RunImage.Image != "run:1" || info.RunImage.Mirrors[0] != "m/run:1" || info.RunImage.TopLayer != "sha256:def" {
		t.Errorf("run image %+v", info.RunImage)
	}
	if info.DefaultProcess != "web" || !info.Processes[0].Default || info.Processes[1].Default {
		t.Errorf("default process %q, processes %+v", info.DefaultProcess, info.Processes)
	}
	if len(info.Layers) != 2 || !strings.HasPrefix(info.Layers[0].DiffID, "sha256:") {
		t.Errorf("layers %+v", info.Layers)
	}
	if info.Labels["org.example"] != "x" {
		t.Errorf("labels %v", info.Labels)
	}
	if _, ok := info.Labels[platform.LabelLifecycleMetadata]; ok {
		t.Error("metadata labels should not be repeated in Labels")
	}
}

func TestReadRejects(t *testing.T) {
	cases := []struct {
		name   string
		labels map[string]string
		want   string
	}{
		{"not a buildpacks image", nil, "no io.buildpacks.lifecycle.metadata label"},
		{"bad lifecycle label", map[string]string{platform.LabelLifecycleMetadata: "{"}, "label io.buildpacks.lifecycle.metadata"},
		{"bad build label", map[string]string{platform.LabelLifecycleMetadata: "{}", platform.LabelBuildMetadata: "["}, "label io.buildpacks.build.metadata"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(withConfig(t, tc.labels, nil))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
