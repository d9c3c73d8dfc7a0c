// Package debian is a small, daemonless apt client: it verifies a repository's signed
// InRelease, reads its Packages index, resolves dependencies, fetches .debs into a
// content-addressed cache and extracts them safely into a root filesystem.
package debian
