// Package buildpack reads buildpack descriptors, order/group/plan files, and runs a
// buildpack's bin/detect and bin/build under the Buildpack API contract (buildpack.md, Buildpack Interface; buildpack.md, Layer Types).
package buildpack
