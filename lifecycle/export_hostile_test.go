package lifecycle

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// What a hostile buildpack leaves in <layers> is read on the host by the exporter: nothing
// may lead it to a host file or turn a name into a path outside the layer.
func TestExportRefusesHostileLayers(t *testing.T) {
	hostTOML := filepath.Join(t.TempDir(), "host.toml")
	mkfile(t, hostTOML, "[metadata]\nsecret = \"host-secret\"\n")
	hostDir := filepath.Join(t.TempDir(), "hostdir")
	mkfile(t, filepath.Join(hostDir, "x.toml"), "[types]\nlaunch = true\n")
	tests := []struct {
		name     string
		metadata string
		plant    func(t *testing.T, f exportFixture)
		want     string
	}{
		{"store.toml symlinked to a host file", webWorkerMetadata, func(t *testing.T, f exportFixture) {
			p := filepath.Join(f.layers, "example_node", "store.toml")
			must(t, os.Remove(p))
			must(t, os.Symlink(hostTOML, p))
		}, "store.toml is a symbolic link"},
		{"layer toml symlinked to a host file", webWorkerMetadata, func(t *testing.T, f exportFixture) {
			must(t, os.Symlink(hostTOML, filepath.Join(f.layers, "example_node", "stolen.toml")))
		}, "stolen.toml is a symbolic link"},
		{"layer named ..", webWorkerMetadata, func(t *testing.T, f exportFixture) {
			mkfile(t, filepath.Join(f.layers, "example_node", "...toml"), "[types]\nlaunch = true\n")
		}, `layer name ".."`},
		{"buildpack dir replaced by a symlink to a host dir", webWorkerMetadata, func(t *testing.T, f exportFixture) {
			must(t, os.RemoveAll(filepath.Join(f.layers, "example_py")))
			must(t, os.Symlink(hostDir, filepath.Join(f.layers, "example_py")))
		}, "example_py is a symbolic link"},
		{"metadata.toml symlinked to a host file", webWorkerMetadata, func(t *testing.T, f exportFixture) {
			p := filepath.Join(f.layers, "config", "metadata.toml")
			must(t, os.Remove(p))
			must(t, os.Symlink(hostTOML, p))
		}, "metadata.toml is a symbolic link"},
		{"process type ..", strings.Replace(webWorkerMetadata, `type = "worker"`, `type = ".."`, 1), func(*testing.T, exportFixture) {},
			`process type ".."`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newExportFixture(t, tc.metadata)
			tc.plant(t, f)
			_, _, err := Export(context.Background(), f.inputs(t, testRunImage(t, true)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "host-secret") {
				t.Errorf("the host file's content is in the error: %v", err)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
