// Package e2ekit is the shared harness of the end-to-end test packages under e2e/: the
// slipway binary built once per worktree, isolated stores, base images, builders, a real
// registry process and podman containers.
package e2ekit
