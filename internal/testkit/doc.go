// Package testkit is what Slipway's tests share: an in-process registry on 127.0.0.1 that
// records and can fail requests, file writers, and must-style helpers that fail the test.
package testkit
