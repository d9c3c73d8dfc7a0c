// Package buildpack reads buildpack descriptors, order/group/plan files, and runs a
// buildpack's bin/detect and bin/build under the Buildpack API contract (cnb-spec.md §2–§3).
package buildpack
