// Package golang is the slipway/go buildpack: it installs a verified Go toolchain into a
// build-only layer, builds the app's main packages into a launch layer and leaves only the
// binaries (and files kept with BP_KEEP_FILES) in the image.
package golang
