// Package registry pulls and pushes images over the OCI distribution API: a thin layer over
// go-containerregistry's remote package adding Slipway's keychain, retries and error messages.
package registry
