// Package webserver is the slipway/web-server buildpack: static sites, and the build
// output of front-end Node.js apps, served by nginx or Apache httpd from the stack's
// Debian packages.
package webserver
