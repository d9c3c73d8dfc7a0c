// Package imagestore is Slipway's local, crash-safe image store: an OCI image layout on disk whose
// index.json maps full image names to manifests, shared by concurrent builds.
package imagestore
