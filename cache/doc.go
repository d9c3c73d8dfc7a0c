// Package cache is the build cache: a volume directory or a registry image holding one tar per
// cache=true buildpack layer plus the io.buildpacks.lifecycle.cache.metadata document, committed
// atomically (buildpack.md, Layer Types; platform.md, Layer Restoration; docs/spec-notes.md, Caches).
package cache
