// Package launcherbin carries the static launcher binary inside the slipway binary when
// built with `-tags embedlauncher` (see Makefile), so slipway ships as one file.
package launcherbin
