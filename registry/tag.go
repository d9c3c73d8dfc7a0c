package registry

import (
	"context"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Tag points ref at img by putting only its manifest: every blob img references must already
// be in ref's repository (Write img by digest first). Splitting the push this way lets a
// publisher upload everything before it moves any tag.
func Tag(ctx context.Context, ref string, img v1.Image, o Options) error {
	r, err := ParseReference(ref, o)
	if err != nil {
		return err
	}
	o.Progress = nil // remote.Put reports no progress; nothing would close the channel
	if err := remote.Put(r, img, o.remoteOptions(ctx)...); err != nil {
		return classify(ctx, OpPush, r, err)
	}
	return nil
}
