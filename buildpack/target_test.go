package buildpack

import (
	"os"
	"path/filepath"
	"testing"
)

// buildpack.md, Phase #1: Detection (targets); docs/spec-notes.md, Target matching: os/arch/variant equal, empty = wildcard, distros name+version.
func TestTargetMatches(t *testing.T) {
	ubuntu22 := []Distro{{Name: "ubuntu", Version: "22.04"}}
	tests := []struct {
		name    string
		bp, run Target
		want    bool
	}{
		{name: "equal os and arch", bp: Target{OS: "linux", Arch: "amd64"}, run: Target{OS: "linux", Arch: "amd64"}, want: true},
		{name: "arch differs", bp: Target{OS: "linux", Arch: "arm64"}, run: Target{OS: "linux", Arch: "amd64"}},
		{name: "os differs", bp: Target{OS: "windows"}, run: Target{OS: "linux", Arch: "amd64"}},
		{name: "empty buildpack fields are wildcards", bp: Target{}, run: Target{OS: "linux", Arch: "amd64", Variant: "v8"}, want: true},
		{name: "unknown run fields are wildcards", bp: Target{OS: "linux", Arch: "arm64", Variant: "v8"}, run: Target{}, want: true},
		{name: "variant differs", bp: Target{OS: "linux", Arch: "arm", Variant: "v7"}, run: Target{OS: "linux", Arch: "arm", Variant: "v6"}},
		{name: "arch-variant spelling", bp: Target{OS: "linux", Arch: "arm", ArchVariant: "v7"}, run: Target{OS: "linux", Arch: "arm", Variant: "v6"}},
		{name: "distro matches one of several", bp: Target{OS: "linux", Distros: []Distro{{Name: "debian", Version: "12"}, {Name: "ubuntu", Version: "22.04"}}},
			run: Target{OS: "linux", Distros: ubuntu22}, want: true},
		{name: "distro version differs", bp: Target{OS: "linux", Distros: []Distro{{Name: "ubuntu", Version: "18.04"}}},
			run: Target{OS: "linux", Distros: ubuntu22}},
		{name: "distro without version matches any version", bp: Target{Distros: []Distro{{Name: "ubuntu"}}},
			run: Target{OS: "linux", Distros: ubuntu22}, want: true},
		{name: "unknown run distro matches", bp: Target{OS: "linux", Distros: []Distro{{Name: "ubuntu", Version: "18.04"}}},
			run: Target{OS: "linux"}, want: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.bp.Matches(tc.run); got != tc.want {
				t.Errorf("%s.Matches(%s) = %v, want %v", tc.bp, tc.run, got, tc.want)
			}
		})
	}
}

// buildpack.md, buildpack.toml (TOML), targets: targets inferred from bin/build, legacy stacks mapped.
func TestDescriptorSupportsTarget(t *testing.T) {
	amd64 := Target{OS: "linux", Arch: "amd64", Distros: []Distro{{Name: "ubuntu", Version: "22.04"}}}
	windows := Target{OS: "windows", Arch: "amd64"}
	withBin := func(t *testing.T, names ...string) string {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "bin"), 0o755)
		for _, n := range names {
			if err := os.WriteFile(filepath.Join(dir, "bin", n), []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	tests := []struct {
		name string
		desc func(t *testing.T) *Descriptor
		run  Target
		want bool
	}{
		{name: "bin/build infers linux", desc: func(t *testing.T) *Descriptor { return &Descriptor{Dir: withBin(t, "build")} }, run: amd64, want: true},
		{name: "bin/build is not windows", desc: func(t *testing.T) *Descriptor { return &Descriptor{Dir: withBin(t, "build")} }, run: windows},
		{name: "bin/build.bat infers windows", desc: func(t *testing.T) *Descriptor { return &Descriptor{Dir: withBin(t, "build.bat")} }, run: windows, want: true},
		{name: "no bin and no targets matches anything", desc: func(t *testing.T) *Descriptor { return &Descriptor{Dir: t.TempDir()} }, run: windows, want: true},
		{name: "declared targets win over inference", desc: func(t *testing.T) *Descriptor {
			return &Descriptor{Dir: withBin(t, "build"), Targets: []Target{{OS: "linux", Arch: "arm64"}}}
		}, run: amd64},
		{name: "bionic stack is ubuntu 18.04", desc: func(t *testing.T) *Descriptor {
			return &Descriptor{Dir: withBin(t, "build"), Stacks: []Stack{{ID: BionicStackID}}}
		}, run: amd64},
		{name: "bionic stack on bionic", desc: func(t *testing.T) *Descriptor {
			return &Descriptor{Dir: withBin(t, "build"), Stacks: []Stack{{ID: BionicStackID}}}
		}, run: Target{OS: "linux", Arch: "amd64", Distros: []Distro{{Name: "ubuntu", Version: "18.04"}}}, want: true},
		{name: "wildcard stack matches any", desc: func(t *testing.T) *Descriptor {
			return &Descriptor{Dir: withBin(t, "build"), Stacks: []Stack{{ID: "*"}}}
		}, run: windows, want: true},
		{name: "unknown stack id is not modelled and matches", desc: func(t *testing.T) *Descriptor {
			return &Descriptor{Dir: withBin(t, "build"), Stacks: []Stack{{ID: "io.paketo.stacks.tiny"}}}
		}, run: amd64, want: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.desc(t)
			if got := d.SupportsTarget(tc.run); got != tc.want {
				t.Errorf("SupportsTarget(%s) = %v, want %v (targets %v)", tc.run, got, tc.want, d.TargetList())
			}
		})
	}
}
