// Package sandbox runs the untrusted detect and build phases in an isolated process whose
// filesystem is a read-only build-image rootfs with the CNB directories bound in.
package sandbox
