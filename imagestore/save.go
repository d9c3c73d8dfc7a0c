package imagestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"syscall"

	"github.com/slipway/slipway/ctxio"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Save writes the named images to w as one docker-archive tarball (the `docker save` format),
// which `podman load -i` and `docker load -i` read. Each image is tagged in the archive with
// its full normalized name, e.g. localhost/myapp:latest, so podman lists it under that name.
// Blobs stream from the store to w; GC waits until Save is done.
func (s *Store) Save(ctx context.Context, refs []string, w io.Writer) error {
	if len(refs) == 0 {
		return errors.New("save images: no image names given")
	}
	unlock, err := flock(filepath.Join(s.root, gcLockFile), syscall.LOCK_SH)
	if err != nil {
		return err
	}
	defer unlock()
	images := map[name.Reference]v1.Image{}
	for _, ref := range refs {
		r, err := Normalize(ref)
		if err != nil {
			return err
		}
		img, err := s.Image(r.Name())
		if err != nil {
			return err
		}
		images[r] = img
	}
	if err := tarball.MultiRefWrite(images, ctxio.Writer(ctx, w)); err != nil {
		return fmt.Errorf("save images %v: %w", refs, err)
	}
	return nil
}
