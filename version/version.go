// Package version is slipway's own version: printed by `slipway version`, recorded as the
// launcher and lifecycle version in image and builder labels.
package version

// Version is set at link time by release builds (-X github.com/slipway/slipway/version.Version=…).
var Version = "0.1.0-dev"
