// Package sdk is a small library for writing Cloud Native Buildpacks against the Buildpack
// API 0.12 contract (cnb-spec.md §2, §3): typed build plans, layers, launch.toml, build.toml,
// env files, SBOM files, verified dependency downloads and logging.
package sdk
