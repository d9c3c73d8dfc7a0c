// Package builder assembles a builder: it reads pack-compatible builder.toml files and lays
// out their buildpacks in the /cnb/buildpacks layout (docs/spec-notes.md, Builder image; docs/spec-notes.md, Builder labels).
package builder
