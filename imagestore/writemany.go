package imagestore

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// WriteMany stores img once and names it refs in a single index update: either every name
// points at the new image or, after any failure or crash, none has moved. Writing the names
// one by one with Write would leave the first names moved when a later one fails.
func (s *Store) WriteMany(ctx context.Context, refs []string, img v1.Image) (v1.Hash, error) {
	if len(refs) == 0 {
		return v1.Hash{}, fmt.Errorf("store image: no name given")
	}
	// Every name is checked before any byte is written, so a bad -t fails the write cleanly.
	var names []string
	seen := map[string]bool{}
	for _, ref := range refs {
		r, err := Normalize(ref)
		if err != nil {
			return v1.Hash{}, err
		}
		if _, ok := r.(name.Tag); !ok {
			return v1.Hash{}, fmt.Errorf("store image as %q: give a name with a tag, not a digest", ref)
		}
		if !seen[r.Name()] {
			seen[r.Name()] = true
			names = append(names, r.Name())
		}
	}
	all := strings.Join(names, ", ")
	// Shared gc lock from first blob to index commit, as in Write.
	unlock, err := flock(filepath.Join(s.root, gcLockFile), syscall.LOCK_SH)
	if err != nil {
		return v1.Hash{}, err
	}
	defer unlock()
	if err := s.writeImageBlobs(ctx, img); err != nil {
		return v1.Hash{}, fmt.Errorf("store image %s: %w", all, err)
	}
	desc, err := imageDescriptor(img)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("store image %s: %w", all, err)
	}
	if err := ctx.Err(); err != nil {
		return v1.Hash{}, fmt.Errorf("store image %s: %w", all, err)
	}
	err = s.updateIndex(func(im *v1.IndexManifest) error {
		kept := im.Manifests[:0]
		for _, d := range im.Manifests {
			if !seen[d.Annotations[RefNameAnnotation]] {
				kept = append(kept, d)
			}
		}
		for _, n := range names {
			d := desc
			d.Annotations = map[string]string{RefNameAnnotation: n}
			kept = append(kept, d)
		}
		im.Manifests = kept
		return nil
	})
	if err != nil {
		return v1.Hash{}, fmt.Errorf("store image %s: %w", all, err)
	}
	return desc.Digest, nil
}
