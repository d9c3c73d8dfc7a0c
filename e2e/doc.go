// Package e2e holds slipway's end-to-end tests, one package per area (build, phases,
// sandbox, stack, nodejs, golang, python, classic, platforms, …) so that `go test ./...`
// runs the areas in parallel: the real binary, a real bubblewrap sandbox, base images made
// from a Debian rootfs, a real registry process on 127.0.0.1, and the resulting images run
// with podman. The shared harness is internal/e2ekit; fixtures live in e2e/testdata.
package e2e
