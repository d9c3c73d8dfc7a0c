package pipeline

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipway/slipway/imagestore"
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
// references may live in either place.
func resolveImage(ctx context.Context, src imageSource, ref string) (*resolvedImage, error) {
	img, err := src.Image(ctx, ref)
	if err != nil {
		return nil, err
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

// storeReference is the digest reference of img when it is the local store's image of that
// name, in the store's naming (localhost/<name> for unqualified names, as rebase and podman
// use), so runImage.reference says where the run image actually came from.
func storeReference(store *imagestore.Store, ref string, img v1.Image) (string, bool) {
	if store == nil {
		return "", false
	}
	stored, err := store.Image(ref)
	if err != nil {
		return "", false
	}
	want, err1 := img.Digest()
	got, err2 := stored.Digest()
	if err1 != nil || err2 != nil || want != got {
		return "", false
	}
	r, err := imagestore.Normalize(ref)
	if err != nil {
		return "", false
	}
	return r.Context().Name() + "@" + got.String(), true
}
