// Package bootstrap gives a slipway built without its assets (plain `go install`, no make)
// the launcher and the default builder's buildpacks: it compiles them once from this
// binary's own module source with the Go toolchain that built it, and caches the result
// under the cache dir keyed by the slipway binary.
package bootstrap
