// Package binding reads what a user mounts into a build: pack-style volumes
// (--volume HOST:CONTAINER[:ro|rw]) and service bindings (--binding NAME=DIR), which
// buildpacks find at <platform>/bindings/<name>/ (servicebinding.io workload projection,
// the successor of the CNB bindings extension).
package binding
