package registry

import (
	"context"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Publish writes img to every registry reference in names (the image and its -t tags) so that
// a failure moves no tag: first the blobs and the manifest go to each target repository by
// digest, which names nothing a user pulls; only when every repository holds the whole image
// are the tags put, one small manifest PUT each. Blobs a repository already has are not sent
// again, and a second repository on the same registry mounts the blobs of the first instead
// of receiving them again. A registry cannot move several tags atomically, so a failure
// while tagging (after every upload succeeded) can still leave the earlier tags moved; the
// error says which ones.
//
// progress, when set, receives upload progress lines (WriteWithProgress).
func Publish(ctx context.Context, names []string, img v1.Image, o Options, progress func(format string, args ...any)) (v1.Hash, error) {
	dig, err := img.Digest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("compute digest of image %s: %w", names[0], err)
	}
	// Parse every name before any request so a bad -t fails with nothing sent.
	var repos []string // distinct repositories, in the order the names give them
	registryOf := map[string]string{}
	for _, n := range names {
		r, err := ParseReference(n, o)
		if err != nil {
			return v1.Hash{}, fmt.Errorf("image name %s: %w", n, err)
		}
		repo := r.Context().Name()
		if _, ok := registryOf[repo]; !ok {
			repos = append(repos, repo)
			registryOf[repo] = r.Context().RegistryStr()
		}
	}

	// uploaded maps a registry to a repository there that already holds the whole image.
	uploaded := map[string]string{}
	for _, repo := range repos {
		byDigest := repo + "@" + dig.String()
		src := img
		if from, ok := uploaded[registryOf[repo]]; ok {
			// An image read back from the registry has mountable layers: remote asks the
			// registry to mount each blob from there rather than uploading it again.
			if src, err = Image(ctx, from+"@"+dig.String(), o); err != nil {
				return v1.Hash{}, fmt.Errorf("publish %s: %w; no tag was changed", byDigest, err)
			}
		}
		var werr error
		if progress != nil {
			_, werr = WriteWithProgress(ctx, byDigest, src, o, progress)
		} else {
			_, werr = Write(ctx, byDigest, src, o)
		}
		if werr != nil {
			return v1.Hash{}, fmt.Errorf("publish %s: %w; no tag was changed%s", names[0], werr, hint(werr))
		}
		uploaded[registryOf[repo]] = repo
	}

	var moved []string
	for _, n := range names {
		if err := Tag(ctx, n, img, o); err != nil {
			if len(moved) == 0 {
				return v1.Hash{}, fmt.Errorf("tag %s: %w; no tag was changed, the image is in the registry as %s%s", n, err, dig, hint(err))
			}
			return v1.Hash{}, fmt.Errorf("tag %s: %w; already moved to %s: %v%s", n, err, dig, moved, hint(err))
		}
		moved = append(moved, n)
	}
	return dig, nil
}

// hint says what to do about a registry failure whose message does not already: the
// unreachable and unauthorized kinds carry their own advice (Error).
func hint(err error) string {
	var re *Error
	if errors.As(err, &re) && (re.Kind == KindUnreachable || re.Kind == KindUnauthorized) {
		return ""
	}
	reg := "the registry"
	if re != nil {
		reg = "registry " + re.Registry
	}
	return fmt.Sprintf("; check that %s is healthy and that the repository exists and accepts pushes, then run the build again", reg)
}
