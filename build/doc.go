// Package build runs a whole `slipway build`: it prepares the per-app workspace, resolves
// the builder and base images, runs detect and build inside the sandbox, exports the image
// on the host and writes it to the local store or a registry.
package build
