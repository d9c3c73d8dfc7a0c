package imagestore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Remove untags the image named ref (for a digest reference: every name of that manifest) and
// then collects blobs no remaining image uses. It returns a *NotFoundError when nothing matched.
func (s *Store) Remove(ctx context.Context, ref string) error {
	r, err := Normalize(ref)
	if err != nil {
		return err
	}
	err = s.updateIndex(func(im *v1.IndexManifest) error {
		kept := im.Manifests[:0]
		for _, d := range im.Manifests {
			if !matches(d, r) {
				kept = append(kept, d)
			}
		}
		if len(kept) == len(im.Manifests) {
			return &NotFoundError{Ref: r.Name(), Root: s.root}
		}
		im.Manifests = kept
		return nil
	})
	if err != nil {
		var nf *NotFoundError
		if errors.As(err, &nf) {
			return err
		}
		return fmt.Errorf("remove image %s: %w", r.Name(), err)
	}
	return s.GC(ctx)
}

// GC deletes blobs not reachable from index.json, and temp files of crashed writers. It waits
// for running Writes to commit, and Writes wait for it, so it never deletes a blob that is about
// to be referenced. Images previously returned by Image whose names were since removed or
// replaced must not be read after GC.
func (s *Store) GC(ctx context.Context) error {
	unlock, err := flock(filepath.Join(s.root, gcLockFile), syscall.LOCK_EX)
	if err != nil {
		return err
	}
	defer unlock()
	im, err := s.readIndex()
	if err != nil {
		return err
	}
	keep := map[v1.Hash]bool{}
	for _, d := range im.Manifests {
		if err := s.mark(d, keep); err != nil {
			// Deleting while unsure what is referenced could destroy images: stop instead.
			return fmt.Errorf("collect garbage in %s: %w", s.root, err)
		}
	}
	dir := filepath.Join(s.root, "blobs", "sha256")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("collect garbage: read %s: %w", dir, err)
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("collect garbage in %s: %w", s.root, err)
		}
		if _, err := hex.DecodeString(e.Name()); err != nil || len(e.Name()) != 64 {
			continue // not a blob; leave foreign files alone
		}
		if keep[v1.Hash{Algorithm: "sha256", Hex: e.Name()}] {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("collect garbage: %w", err)
		}
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	return s.removeIngest()
}

// mark records d and everything it references (image manifest → config and layers; image
// index → child manifests) as reachable.
func (s *Store) mark(d v1.Descriptor, keep map[v1.Hash]bool) error {
	if keep[d.Digest] {
		return nil
	}
	keep[d.Digest] = true
	switch {
	case d.MediaType.IsImage():
		m, err := s.readManifest(d.Digest)
		if err != nil {
			return err
		}
		keep[m.Config.Digest] = true
		for _, l := range m.Layers {
			keep[l.Digest] = true
		}
		if m.Subject != nil {
			keep[m.Subject.Digest] = true
		}
	case d.MediaType.IsIndex():
		f, err := os.Open(s.blobPath(d.Digest))
		if err != nil {
			return fmt.Errorf("read index %s: %w", d.Digest, err)
		}
		child, err := v1.ParseIndexManifest(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("parse index %s: %w", d.Digest, err)
		}
		for _, c := range child.Manifests {
			if err := s.mark(c, keep); err != nil {
				return err
			}
		}
	}
	return nil
}
