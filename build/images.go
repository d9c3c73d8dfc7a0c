package build

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipway/slipway/imagestore"
	"github.com/slipway/slipway/registry"
)

// resolvedImage is a base image with the reference that identifies its exact content:
// a digest reference for registry images, the store name@digest for local ones.
type resolvedImage struct {
	Name      string // as the user or builder wrote it
	Reference string // name@sha256:… — what runImage.reference records
	Image     v1.Image
	mirrors   []string
}

// resolveImage finds ref in the local store, else in its registry. Images a builder
// references may live in either place (issue: "pulled from their registry (or found in
// the local store)").
func resolveImage(ctx context.Context, store *imagestore.Store, ref string, ro registry.Options) (*resolvedImage, error) {
	if store != nil {
		img, err := store.Image(ref)
		if err == nil {
			return finishResolve(ref, img)
		}
		var nf *imagestore.NotFoundError
		if !errors.As(err, &nf) {
			return nil, fmt.Errorf("read image %s from the local store: %w", ref, err)
		}
	}
	img, err := registry.Image(ctx, ref, ro)
	if err != nil {
		return nil, fmt.Errorf("image %s is not in the local store, and pulling it failed: %w", ref, err)
	}
	return finishResolve(ref, img)
}

func finishResolve(ref string, img v1.Image) (*resolvedImage, error) {
	dig, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("digest of image %s: %w", ref, err)
	}
	repo := ref
	if r, err := name.ParseReference(ref); err == nil {
		repo = r.Context().Name()
	}
	return &resolvedImage{Name: ref, Reference: repo + "@" + dig.String(), Image: img}, nil
}
