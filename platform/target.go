package platform

import v1 "github.com/google/go-containerregistry/pkg/v1"

// Labels of base images (cnb-spec.md §4.3, §5.8).
const (
	DistroNameLabel    = "io.buildpacks.base.distro.name"
	DistroVersionLabel = "io.buildpacks.base.distro.version"
	StackIDLabel       = "io.buildpacks.stack.id"
)

// TargetOf reads an image's target: os/arch/variant from its config and the distro from
// the io.buildpacks.base.distro.* labels (cnb-spec.md §2.2).
func TargetOf(cfg *v1.ConfigFile) TargetMetadata {
	t := TargetMetadata{OS: cfg.OS, Arch: cfg.Architecture, ArchVariant: cfg.Variant}
	labels := cfg.Config.Labels
	if name := labels[DistroNameLabel]; name != "" {
		t.Distro = &TargetDistro{Name: name, Version: labels[DistroVersionLabel]}
	}
	return t
}
