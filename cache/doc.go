// Package cache is the build cache: a volume directory or a registry image holding one tar per
// cache=true buildpack layer plus the io.buildpacks.lifecycle.cache.metadata document, committed
// atomically (cnb-spec.md §3.2–3.5, §4.16).
package cache
