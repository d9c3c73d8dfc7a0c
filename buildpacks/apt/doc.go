// Package apt is the Slipway Apt buildpack: the Debian packages an app's Aptfile names,
// with their dependencies, installed into a layer available at build and at launch.
package apt
