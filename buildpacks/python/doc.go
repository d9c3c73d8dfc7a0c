// Package python is the Slipway Python buildpack: CPython (from the stack's Debian
// packages or a python-build-standalone mirror), the app's dependencies in a virtual
// environment (pip, Pipenv, Poetry or uv) and a web process.
package python
