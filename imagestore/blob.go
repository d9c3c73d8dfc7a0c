package imagestore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/slipway/slipway/ctxio"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ingestDir holds blobs being written. It lives inside the store so the final rename stays on
// one filesystem (and is therefore atomic); files left by a crashed writer are removed by Open
// and GC while no Write holds the gc lock.
const ingestDir = "ingest"

func (s *Store) blobPath(h v1.Hash) string {
	return filepath.Join(s.root, "blobs", h.Algorithm, h.Hex)
}

// hasBlob reports whether a committed blob with digest h (and size, when size >= 0) exists.
// Blobs are only ever renamed into place after their digest was verified, so presence with the
// right size is proof of content: this is what lets a rebuild skip rewriting unchanged layers.
func (s *Store) hasBlob(h v1.Hash, size int64) bool {
	fi, err := os.Stat(s.blobPath(h))
	if err != nil || !fi.Mode().IsRegular() {
		return false
	}
	return size < 0 || fi.Size() == size
}

// commitBlob streams r into the store following containerd's ingest protocol: write to a temp
// file in ingest/, fsync, verify size and digest, rename into blobs/sha256/, fsync the
// directory. want may be the zero Hash and size -1 when the caller does not know them yet
// (stream layers); the computed digest and size are returned either way.
func (s *Store) commitBlob(ctx context.Context, want v1.Hash, size int64, r io.Reader) (v1.Hash, int64, error) {
	if want != (v1.Hash{}) && want.Algorithm != "sha256" {
		return v1.Hash{}, 0, fmt.Errorf("store blob %s: only sha256 digests are supported", want)
	}
	tmp, err := os.CreateTemp(filepath.Join(s.root, ingestDir), "blob-*")
	if err != nil {
		return v1.Hash{}, 0, fmt.Errorf("create temp blob in %s: %w", s.root, err)
	}
	committed := false
	defer func() {
		if !committed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()

	hasher := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, hasher), ctxio.Reader(ctx, r))
	if err != nil {
		return v1.Hash{}, 0, fmt.Errorf("write blob %s: %w", want, err)
	}
	got := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(hasher.Sum(nil))}
	if want != (v1.Hash{}) && got != want {
		return v1.Hash{}, 0, fmt.Errorf("write blob: content digest %s does not match expected %s; the image source is corrupt", got, want)
	}
	if size >= 0 && n != size {
		return v1.Hash{}, 0, fmt.Errorf("write blob %s: got %d bytes, expected %d; the image source is corrupt", got, n, size)
	}
	if err := tmp.Sync(); err != nil {
		return v1.Hash{}, 0, fmt.Errorf("sync blob %s: %w", got, err)
	}
	if err := tmp.Close(); err != nil {
		return v1.Hash{}, 0, fmt.Errorf("close blob %s: %w", got, err)
	}
	// Blobs are immutable; read-only permission documents that and guards against accidents.
	if err := os.Chmod(tmp.Name(), 0o444); err != nil {
		return v1.Hash{}, 0, fmt.Errorf("chmod blob %s: %w", got, err)
	}
	dst := s.blobPath(got)
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return v1.Hash{}, 0, fmt.Errorf("commit blob %s: %w", got, err)
	}
	committed = true
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return v1.Hash{}, 0, err
	}
	return got, n, nil
}

// writeBlobIfMissing commits the blob unless it is already present with the expected size.
func (s *Store) writeBlobIfMissing(ctx context.Context, want v1.Hash, size int64, open func() (io.ReadCloser, error)) error {
	if s.hasBlob(want, size) {
		return nil
	}
	rc, err := open()
	if err != nil {
		return fmt.Errorf("read blob %s: %w", want, err)
	}
	defer rc.Close()
	_, _, err = s.commitBlob(ctx, want, size, rc)
	return err
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
