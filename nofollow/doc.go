// Package nofollow opens files that untrusted code (a buildpack, a build image) wrote under
// a directory without following a symbolic link anywhere on the way, for host-side code
// that reads them.
package nofollow
