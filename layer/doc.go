// Package layer writes reproducible image layers: a tar stream is hashed (diffID), gzipped,
// hashed again (digest) and stored in a scratch file in one pass, then served as a
// go-containerregistry v1.Layer (docs/spec-notes.md, Image layer order; platform.md, Build Reproducibility; docs/spec-notes.md, Layer reuse).
package layer
