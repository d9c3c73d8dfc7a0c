// Package layer writes reproducible image layers: a tar stream is hashed (diffID), gzipped,
// hashed again (digest) and stored in a scratch file in one pass, then served as a
// go-containerregistry v1.Layer (cnb-spec.md §5.2, §8.1, §8.2).
package layer
