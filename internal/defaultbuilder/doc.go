// Package defaultbuilder makes the builder `slipway build` uses when no --builder is given:
// slipway's own buildpacks (embedded in the binary at build time) on the built-in Debian
// stack, created on first use and kept in the local store.
package defaultbuilder
