// Package platform holds the Platform API files and conventions shared by the phases:
// default paths, analyzed.toml, run.toml, project-metadata.toml, report.toml and exit codes
// (platform.md, Lifecycle Interface).
package platform
