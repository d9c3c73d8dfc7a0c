// Package procfile is the Slipway Procfile buildpack: each "type: command" line of the app's
// Procfile becomes a launch process, web being the default.
package procfile
