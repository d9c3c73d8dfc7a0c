// Package sdk is a small library for writing Cloud Native Buildpacks against the Buildpack
// API 0.12 contract (buildpack.md, Buildpack Interface; buildpack.md, Layer Types): typed build plans, layers, launch.toml, build.toml,
// env files, SBOM files, verified dependency downloads and logging.
package sdk
