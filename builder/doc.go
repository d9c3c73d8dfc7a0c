// Package builder assembles a builder: it reads pack-compatible builder.toml files and lays
// out their buildpacks in the /cnb/buildpacks layout (cnb-spec.md §7.1–7.2).
package builder
