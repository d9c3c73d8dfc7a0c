package publish

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/slipway/slipway/lifecycle"
	"github.com/slipway/slipway/platform"
)

// Layout keeps images as OCI image layouts under Dir (platform.md, Experimental Features:
// OCI layout): a tag reference registry/repo:tag lives in <Dir>/<registry>/<repo>/<tag>, a
// digest reference in <Dir>/<registry>/<repo>/<algorithm>/<hex>.
type Layout struct{ Dir string }

var _ lifecycle.Images = Layout{}

// Path is the layout directory of ref.
func (l Layout) Path(ref string) (string, error) {
	r, err := name.ParseReference(ref, name.WeakValidation)
	if err != nil {
		return "", fmt.Errorf("image %q: %w", ref, err)
	}
	repo := filepath.Join(l.Dir, r.Context().RegistryStr(), filepath.FromSlash(r.Context().RepositoryStr()))
	if d, ok := r.(name.Digest); ok {
		h, err := v1.NewHash(d.DigestStr())
		if err != nil {
			return "", err
		}
		return filepath.Join(repo, h.Algorithm, h.Hex), nil
	}
	return filepath.Join(repo, r.Identifier()), nil
}

// Image reads the image of ref's layout; a digest reference is also found among the tags
// of its repository. A missing one is lifecycle.ErrImageNotFound.
func (l Layout) Image(_ context.Context, ref string) (v1.Image, error) {
	p, err := l.Path(ref)
	if err != nil {
		return nil, err
	}
	img, err := readLayout(p)
	if errors.Is(err, fs.ErrNotExist) {
		if d, derr := name.NewDigest(ref, name.WeakValidation); derr == nil {
			if img, ok := l.findDigest(d); ok {
				return img, nil
			}
		}
		return nil, fmt.Errorf("%w: no OCI layout at %s (-layout-dir %s)", lifecycle.ErrImageNotFound, p, l.Dir)
	}
	if err != nil {
		return nil, fmt.Errorf("read OCI layout %s of %s: %w", p, ref, err)
	}
	return img, nil
}

func readLayout(p string) (v1.Image, error) {
	if _, err := os.Stat(filepath.Join(p, "index.json")); err != nil {
		return nil, err
	}
	ii, err := layout.ImageIndexFromPath(p)
	if err != nil {
		return nil, err
	}
	im, err := ii.IndexManifest()
	if err != nil {
		return nil, err
	}
	if len(im.Manifests) == 0 {
		return nil, fmt.Errorf("%s: index.json lists no image", p)
	}
	return ii.Image(im.Manifests[0].Digest)
}

// findDigest looks for the image with digest d among the tag layouts of its repository.
func (l Layout) findDigest(d name.Digest) (v1.Image, bool) {
	repo := filepath.Join(l.Dir, d.Context().RegistryStr(), filepath.FromSlash(d.Context().RepositoryStr()))
	entries, err := os.ReadDir(repo)
	if err != nil {
		return nil, false
	}
	for _, e := range entries {
		img, err := readLayout(filepath.Join(repo, e.Name()))
		if err != nil {
			continue
		}
		if got, err := img.Digest(); err == nil && got.String() == d.DigestStr() {
			return img, true
		}
	}
	return nil, false
}

// Write writes img as a fresh layout for every name: each is built in a temporary directory
// beside it and renamed into place, so a reader never sees half a layout.
func (l Layout) Write(_ context.Context, names []string, img v1.Image) (platform.ImageReport, error) {
	var paths []string
	for _, n := range names {
		p, err := l.Path(n)
		if err != nil {
			return platform.ImageReport{}, err
		}
		paths = append(paths, p)
	}
	for i, p := range paths {
		if err := writeLayout(p, img); err != nil {
			return platform.ImageReport{}, fmt.Errorf("write OCI layout of %s to %s: %w", names[i], p, err)
		}
	}
	d, err := img.Digest()
	if err != nil {
		return platform.ImageReport{}, err
	}
	rep := platform.ImageReport{Digest: d.String()}
	if n, err := img.Size(); err == nil {
		rep.ManifestSize = n
	}
	return rep, nil
}

func writeLayout(p string, img v1.Image) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(p), "."+filepath.Base(p)+".tmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	lp, err := layout.Write(tmp, empty.Index)
	if err != nil {
		return err
	}
	if err := lp.AppendImage(img); err != nil {
		return err
	}
	old := tmp + ".old"
	if err := os.Rename(p, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		return err
	}
	return os.RemoveAll(old)
}
