// Package platform holds the Platform API files and conventions shared by the phases:
// default paths, analyzed.toml, run.toml, project-metadata.toml, report.toml and exit codes
// (cnb-spec.md §4).
package platform
