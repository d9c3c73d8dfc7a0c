package publish

import (
	"context"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipway/slipway/lifecycle"
	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/registry"
)

// Registry keeps images in registries (platform.md, Registry Authentication for credentials).
type Registry struct {
	Options registry.Options
	// Progress, when set, receives upload progress lines.
	Progress func(format string, args ...any)
}

var _ lifecycle.Images = Registry{}

// Image reads ref; a missing image is lifecycle.ErrImageNotFound.
func (r Registry) Image(ctx context.Context, ref string) (v1.Image, error) {
	img, err := registry.Image(ctx, ref, r.Options)
	var re *registry.Error
	if errors.As(err, &re) && re.Kind == registry.KindNotFound {
		return nil, fmt.Errorf("%w: %w", lifecycle.ErrImageNotFound, err)
	}
	return img, err
}

// Write pushes img under every name, moving no tag unless every upload succeeded
// (registry.Publish); the report has the manifest digest and size (platform.md, Files: report.toml).
func (r Registry) Write(ctx context.Context, names []string, img v1.Image) (platform.ImageReport, error) {
	d, err := registry.Publish(ctx, names, img, r.Options, r.Progress)
	if err != nil {
		return platform.ImageReport{}, err
	}
	rep := platform.ImageReport{Digest: d.String()}
	if n, err := img.Size(); err == nil {
		rep.ManifestSize = n
	}
	return rep, nil
}
