// Package stack makes CNB base images (build and run images) from a root filesystem.
package stack
