// Package testimages provides a real Debian rootfs and build/run base images made from
// it, built once per machine and cached, for tests and end-to-end runs.
package testimages
