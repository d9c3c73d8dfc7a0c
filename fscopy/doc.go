// Package fscopy copies directory trees on one machine: what a buildpack copies from one
// of its directories to another (a classic buildpack's tree into a writable place, caches
// into and out of a cache layer).
package fscopy
