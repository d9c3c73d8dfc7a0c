//go:build embedlauncher

package launcherbin

import _ "embed"

//go:embed launcher
var binary []byte

// Binary returns the embedded launcher, or nil when slipway was built without it.
func Binary() []byte { return binary }
