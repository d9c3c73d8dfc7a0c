// Package nodejs is the Slipway Node.js buildpack: it installs a verified Node.js runtime,
// the app's dependencies with npm, yarn or pnpm, runs the build script and declares the
// web process.
package nodejs
