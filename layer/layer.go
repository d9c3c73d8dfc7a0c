package layer

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Layer is a finished layer whose gzipped blob lives in a scratch file. Its digests and size
// were computed while the blob was written, so none of the accessors re-reads the file.
// The file stays on disk until Remove is called (or the scratch dir is deleted).
type Layer struct {
	path      string
	digest    v1.Hash
	diffID    v1.Hash
	size      int64
	mediaType types.MediaType
	plain     bool // the blob is an uncompressed tar (Options.Uncompressed)
}

var _ v1.Layer = (*Layer)(nil)

// Digest is the sha256 of the compressed blob.
func (l *Layer) Digest() (v1.Hash, error) { return l.digest, nil }

// DiffID is the sha256 of the uncompressed tar (platform.md, io.buildpacks.lifecycle.metadata (JSON): every recorded sha is this).
func (l *Layer) DiffID() (v1.Hash, error) { return l.diffID, nil }

// Size is the size of the compressed blob.
func (l *Layer) Size() (int64, error) { return l.size, nil }

// MediaType is the media type chosen by the caller (OCI or Docker family).
func (l *Layer) MediaType() (types.MediaType, error) { return l.mediaType, nil }

// Compressed opens the blob file (the plain tar with Options.Uncompressed).
func (l *Layer) Compressed() (io.ReadCloser, error) {
	f, err := os.Open(l.path)
	if err != nil {
		return nil, fmt.Errorf("open layer blob %s: %w", l.path, err)
	}
	return f, nil
}

// Uncompressed opens the blob file and gunzips it.
func (l *Layer) Uncompressed() (io.ReadCloser, error) {
	f, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	if l.plain {
		return f, nil
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("gunzip layer blob %s: %w", l.path, err)
	}
	return &gunzipReader{zr: zr, f: f}, nil
}

// Path is the scratch file holding the compressed blob; a store may hard-link or copy it.
func (l *Layer) Path() string { return l.path }

// Remove deletes the scratch file; the Layer is unusable afterwards.
func (l *Layer) Remove() error { return os.Remove(l.path) }

type gunzipReader struct {
	zr *gzip.Reader
	f  io.Closer
}

func (g *gunzipReader) Read(p []byte) (int, error) { return g.zr.Read(p) }

func (g *gunzipReader) Close() error {
	zerr := g.zr.Close()
	ferr := g.f.Close()
	if zerr != nil {
		return zerr
	}
	return ferr
}
