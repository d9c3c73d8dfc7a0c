// Package integration holds tests that run the packaged buildpacks through Slipway's
// lifecycle library on the host.
package integration
