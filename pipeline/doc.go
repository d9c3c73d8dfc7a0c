// Package pipeline runs a whole `slipway build`: it prepares the per-app workspace (app copy,
// builder, buildpacks, the build image's root filesystem), then runs the lifecycle phases
// (analyze, detect and build in the sandbox, restore, export) and writes the image to the
// local store or a registry.
package pipeline
