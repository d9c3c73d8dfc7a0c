package platform

import v1 "github.com/google/go-containerregistry/pkg/v1"

// TargetOf reads an image's target: os/arch/variant from its config and the distro from
// the io.buildpacks.base.distro.* labels (buildpack.md, Phase #1: Detection (targets)).
func TargetOf(cfg *v1.ConfigFile) TargetMetadata {
	t := TargetMetadata{OS: cfg.OS, Arch: cfg.Architecture, ArchVariant: cfg.Variant}
	labels := cfg.Config.Labels
	if name := labels[LabelDistroName]; name != "" {
		t.Distro = &TargetDistro{Name: name, Version: labels[LabelDistroVersion]}
	}
	return t
}
