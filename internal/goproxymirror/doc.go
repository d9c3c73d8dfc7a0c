// Package goproxymirror is a caching Go module proxy on 127.0.0.1 for tests and benchmarks:
// it answers the module proxy protocol (GOPROXY, including golang.org/toolchain zips and
// the /sumdb/<name>/ passthrough of the checksum database) from a directory on disk,
// fetching each path from the upstream proxy once. Buildpacks in the build sandbox reach it
// over plain HTTP as GOPROXY, the setting users point at their own Athens or Artifactory.
package goproxymirror
