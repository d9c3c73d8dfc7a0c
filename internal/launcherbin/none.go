//go:build !embedlauncher

package launcherbin

// Binary returns the embedded launcher, or nil when slipway was built without it.
func Binary() []byte { return nil }
