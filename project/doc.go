// Package project reads the project descriptor (project.toml, cnb-spec.md §7.5), materializes its
// inline script buildpacks, and syncs the app directory into the build workspace honouring its
// include/exclude lists.
package project
