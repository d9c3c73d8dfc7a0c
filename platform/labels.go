package platform

// The io.buildpacks.* labels, in one place: app images (platform.md, Labels), base images
// (platform.md, Build Image; Run Image), builders and buildpackages (docs/spec-notes.md,
// Builder labels; distribution.md, Buildpackage) and cache images (docs/spec-notes.md, Caches).
// The names and JSON shapes are those pack and the reference lifecycle use, so images written
// by either side are read by the other.
const (
	// App images.
	LabelLifecycleMetadata = "io.buildpacks.lifecycle.metadata"
	LabelBuildMetadata     = "io.buildpacks.build.metadata"
	LabelProjectMetadata   = "io.buildpacks.project.metadata"
	LabelRebasable         = "io.buildpacks.rebasable"

	// Base images (build and run). io.buildpacks.stack.* is deprecated since Platform API 0.12
	// but still read by older platforms.
	LabelDistroName    = "io.buildpacks.base.distro.name"
	LabelDistroVersion = "io.buildpacks.base.distro.version"
	LabelMaintainer    = "io.buildpacks.base.maintainer"
	LabelHomepage      = "io.buildpacks.base.homepage"
	LabelStackID       = "io.buildpacks.stack.id"

	// Builders and buildpackages.
	LabelBuilderMetadata      = "io.buildpacks.builder.metadata"
	LabelBuildpackOrder       = "io.buildpacks.buildpack.order"
	LabelBuildpackLayers      = "io.buildpacks.buildpack.layers"
	LabelBuildpackageMetadata = "io.buildpacks.buildpackage.metadata"
	LabelLifecycleVersion     = "io.buildpacks.lifecycle.version"
	LabelLifecycleAPIs        = "io.buildpacks.lifecycle.apis"

	// Cache images; also the metadata file name of a volume cache.
	LabelCacheMetadata = "io.buildpacks.lifecycle.cache.metadata"
)
