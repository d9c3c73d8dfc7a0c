// Package e2e holds slipway's end-to-end tests: the real binary, a real bubblewrap sandbox,
// base images made from a Debian rootfs, a real registry process on 127.0.0.1, and the
// resulting images run with podman.
package e2e
