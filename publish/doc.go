// Package publish reads and writes the images of a build where the platform keeps them: a
// registry, a Docker Engine API (the -daemon mode of platform.md), or OCI image layouts on
// disk (the -layout mode), behind the one lifecycle.Images interface the phases use.
package publish
