// Package project reads the project descriptor (project.toml, extensions/project-descriptor.md), materializes its
// inline script buildpacks, and syncs the app directory into the build workspace honouring its
// include/exclude lists.
package project
