package buildpack

import (
	"os"
	"path/filepath"
	"strings"
)

// BionicStackID is the one legacy stack id with a known target (buildpack.md, buildpack.toml (TOML), targets).
const BionicStackID = "io.buildpacks.stacks.bionic"

// Matches reports whether t, a target a buildpack declares, admits run, the run image's
// target (buildpack.md, Phase #1: Detection (targets)). os, arch and variant must be equal, an empty string on either
// side being a wildcard (docs/spec-notes.md, Target matching). When both sides name distros, one pair must agree on name
// and version (again with empty = any). A run image whose distro is unknown matches every
// distro: the reference lifecycle would read /etc/os-release of the build container here,
// which is the caller's job (fill run.Distros before matching).
func (t Target) Matches(run Target) bool {
	if !wildEqual(t.OS, run.OS) || !wildEqual(t.Arch, run.Arch) || !wildEqual(t.variant(), run.variant()) {
		return false
	}
	if len(t.Distros) == 0 || len(run.Distros) == 0 {
		return true
	}
	for _, d := range t.Distros {
		for _, rd := range run.Distros {
			if wildEqual(d.Name, rd.Name) && wildEqual(d.Version, rd.Version) {
				return true
			}
		}
	}
	return false
}

// String renders the target as os/arch[/variant] [distro version, …] for messages; unknown
// fields print as "*".
func (t Target) String() string {
	star := func(s string) string {
		if s == "" {
			return "*"
		}
		return s
	}
	s := star(t.OS) + "/" + star(t.Arch)
	if v := t.variant(); v != "" {
		s += "/" + v
	}
	if len(t.Distros) > 0 {
		ds := make([]string, len(t.Distros))
		for i, d := range t.Distros {
			ds[i] = strings.TrimSpace(star(d.Name) + " " + d.Version)
		}
		s += " (" + strings.Join(ds, ", ") + ")"
	}
	return s
}

// variant accepts the lifecycle's arch-variant spelling too (buildpack.md, buildpack.toml (TOML), targets).
func (t Target) variant() string {
	if t.Variant != "" {
		return t.Variant
	}
	return t.ArchVariant
}

func wildEqual(a, b string) bool { return a == "" || b == "" || a == b }

// TargetList returns the targets the buildpack supports (buildpack.md, buildpack.toml (TOML), targets):
//   - its [[targets]] when it declares any;
//   - else its legacy [[stacks]]: io.buildpacks.stacks.bionic is linux/amd64 ubuntu 18.04,
//     and every other stack id (including "*") is treated as "any target", because slipway
//     does not model stacks or mixins;
//   - else inferred from bin/: bin/build → linux, bin/build.bat or bin/build.exe → windows,
//     any arch;
//   - else nil, meaning the buildpack places no constraint (composites never have targets).
func (d *Descriptor) TargetList() []Target {
	if len(d.Targets) > 0 {
		return d.Targets
	}
	if len(d.Stacks) > 0 {
		out := make([]Target, 0, len(d.Stacks))
		for _, s := range d.Stacks {
			if s.ID == BionicStackID {
				out = append(out, Target{OS: "linux", Arch: "amd64", Distros: []Distro{{Name: "ubuntu", Version: "18.04"}}})
			} else {
				out = append(out, Target{})
			}
		}
		return out
	}
	if d.Dir == "" || d.IsComposite() {
		return nil
	}
	var out []Target
	if targetBinExists(filepath.Join(d.Dir, "bin", "build")) {
		out = append(out, Target{OS: "linux"})
	}
	if targetBinExists(filepath.Join(d.Dir, "bin", "build.bat")) || targetBinExists(filepath.Join(d.Dir, "bin", "build.exe")) {
		out = append(out, Target{OS: "windows"})
	}
	return out
}

// SupportsTarget reports whether any of the buildpack's targets matches the run image's
// target; a buildpack without targets supports every target.
func (d *Descriptor) SupportsTarget(run Target) bool {
	list := d.TargetList()
	if len(list) == 0 {
		return true
	}
	for _, t := range list {
		if t.Matches(run) {
			return true
		}
	}
	return false
}

func targetBinExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}
