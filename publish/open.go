package publish

import (
	"context"

	"github.com/slipway/slipway/lifecycle"
	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/registry"
)

// For is where the phase with inputs in keeps its images: the Docker daemon with -daemon,
// OCI layouts with -layout, else registries. close releases what it opened.
func For(ctx context.Context, in *platform.Inputs, env []string, reg registry.Options) (images lifecycle.Images, close func(), err error) {
	switch {
	case in.UseDaemon:
		d, err := OpenDaemon(ctx, env)
		if err != nil {
			return nil, nil, err
		}
		return d, func() { d.Close() }, nil
	case in.UseLayout:
		return Layout{Dir: in.LayoutDir}, func() {}, nil
	default:
		return Registry{Options: reg}, func() {}, nil
	}
}
