package buildpack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway/slipway/api"
)

// The files below come from buildpacks, which may be hostile: parsing must never panic, and
// whatever is accepted must be safe to turn into paths.

func FuzzReadDescriptor(f *testing.F) {
	f.Add("api = \"0.10\"\n[buildpack]\nid = \"a/b\"\nversion = \"1.0.0\"\n")
	f.Add("api = \"0.12\"\n[buildpack]\nid = \"x\"\nversion = \"1.0.0-/../../tmp/victim\"\n")
	f.Add("api = \"0.12\"\n[buildpack]\nid = \"..\"\nversion = \"1.0.0\"\n[[order]]\n[[order.group]]\nid = \"c\"\nversion = \"0.0.1+b\"\n")
	f.Add("api = \"0.9\"\n[buildpack]\nid = \"x\"\nversion = \"1.0.0\"\nexec-env = [{name = \"production\"}]\n[[targets]]\nos = \"linux\"\n")
	f.Fuzz(func(t *testing.T, data string) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "buildpack.toml"), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		d, err := ReadDescriptor(dir)
		if err != nil {
			return
		}
		dest := "/cnb/buildpacks"
		p := filepath.Join(dest, EscapedID(d.Buildpack.ID), d.Buildpack.Version)
		if filepath.Dir(filepath.Dir(p)) != dest {
			t.Errorf("accepted %s leads to %s, outside %s/<id>/<version>", d.Ref(), p, dest)
		}
		for _, g := range d.Order {
			for _, e := range g.Group {
				if ValidateRef(e.ID, e.Version) != nil {
					t.Errorf("accepted an order entry %s", e.Ref())
				}
			}
		}
	})
}

func FuzzReadLaunchTOML(f *testing.F) {
	f.Add("[[processes]]\ntype = \"web\"\ncommand = [\"node\", \"app.js\"]\ndefault = true\n", true)
	f.Add("[[processes]]\ntype = \"..\"\ncommand = \"x\"\n", false)
	f.Add("[[slices]]\npaths = [\"../*\"]\n[[labels]]\nkey = \"k\"\nvalue = \"v\"\n", true)
	f.Fuzz(func(t *testing.T, data string, arrays bool) {
		p := filepath.Join(t.TempDir(), "launch.toml")
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		version := "0.8"
		if arrays {
			version = "0.10"
		}
		caps, err := api.ForBuildpack(version, "fuzz")
		if err != nil {
			t.Fatal(err)
		}
		procs, lt, _, err := ReadLaunchTOML(p, caps, "fuzz/bp")
		if err != nil {
			return
		}
		for _, pr := range procs {
			if ValidateProcessType(pr.Type) != nil || len(pr.Command) == 0 {
				t.Errorf("accepted process %+v", pr)
			}
		}
		for _, s := range lt.Slices {
			for _, g := range s.Paths {
				if filepath.IsAbs(g) || strings.HasPrefix(filepath.Clean(g), "../") || filepath.Clean(g) == ".." {
					t.Errorf("accepted slice glob %q outside the app", g)
				}
			}
		}
	})
}

func FuzzReadLayerMetadataFile(f *testing.F) {
	f.Add("[types]\nlaunch = true\ncache = true\n[metadata]\nversion = \"1\"\n")
	f.Add("launch = true\n")
	f.Add("[metadata]\n[metadata.a]\nb = [1, 2, {c = 3}]\n")
	f.Fuzz(func(t *testing.T, data string) {
		p := filepath.Join(t.TempDir(), "layer.toml")
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		_, _ = ReadLayerMetadataFile(p)
	})
}
