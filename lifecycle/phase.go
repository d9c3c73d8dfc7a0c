package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipway/slipway/buildpack"
	"github.com/slipway/slipway/cache"
	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/registry"
	"github.com/slipway/slipway/tomlfile"
)

// The phases as library functions (platform.md, Operations: Build): each takes the inputs
// platform.ParseInputs resolved once and the IO of its caller. `slipway lifecycle <phase>`,
// /cnb/lifecycle/<phase> and `slipway build` call these same functions; the creator is
// their sequence.

// Images is where a phase reads images and writes the app image: a registry, a Docker
// Engine API (-daemon), OCI layouts (-layout), or slipway's local store.
type Images interface {
	ImageSource
	// Write writes img under every name, moving no name unless the whole image is
	// written, and says what identifies it there (report.toml [image]).
	Write(ctx context.Context, names []string, img v1.Image) (platform.ImageReport, error)
}

// identifier is implemented by Images whose references are not repo@digest (a daemon
// identifies an image by its image ID).
type identifier interface {
	Identify(ref string, img v1.Image) (string, error)
}

// identify is the reference that pins img, found in images as ref: what analyzed.toml
// records as run-image.reference and previous image reference (platform.md, Files).
func identify(images Images, ref string, img v1.Image) (string, error) {
	if id, ok := images.(identifier); ok {
		return id.Identify(ref, img)
	}
	d, err := img.Digest()
	if err != nil {
		return "", fmt.Errorf("digest of image %s: %w", ref, err)
	}
	r, err := name.ParseReference(ref, name.WeakValidation)
	if err != nil {
		return "", fmt.Errorf("image %q: %w", ref, err)
	}
	return r.Context().Name() + "@" + d.String(), nil
}

// IO is what a phase talks to besides its input files.
type IO struct {
	// Images holds the previous, run and app images; Registry reaches cache images (and
	// is what Images uses when it is a registry).
	Images   Images
	Registry registry.Options
	// Environ is the phase's process environment (SOURCE_DATE_EPOCH, CNB_* passed through
	// to buildpacks per the Platform API).
	Environ        []string
	Stdout, Stderr io.Writer
	// ProcessTime, when set, receives the time spent in buildpack processes.
	ProcessTime *ProcessTime
}

func (o IO) warnf(format string, args ...any) {
	fmt.Fprintf(o.Stderr, "Warning: "+format+"\n", args...)
}

func readGroup(path string) (platform.GroupFile, error) {
	var g platform.GroupFile
	err := tomlfile.Read(path, &g)
	return g, err
}

func readAnalyzed(path string) (*platform.Analyzed, error) {
	var a platform.Analyzed
	if err := tomlfile.Read(path, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// analyzedTarget is the run image's target from analyzed.toml; none when the file or the
// target is missing (a platform that skipped the analyzer).
func analyzedTarget(path string) (buildpack.Target, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return buildpack.Target{}, nil
	}
	a, err := readAnalyzed(path)
	if err != nil {
		return buildpack.Target{}, err
	}
	if a.RunImage == nil || a.RunImage.Target == nil {
		return buildpack.Target{}, nil
	}
	return a.RunImage.Target.Target(), nil
}

// chownForCNBUser gives what a root-run phase wrote to the CNB user, so the phases after it
// (which refuse root) can change it (platform.md, Build Image: the phases that may start as
// root chown the layers and cache directories). A no-op when not root or uid is 0.
func chownForCNBUser(root string, uid, gid int) error {
	if os.Getuid() != 0 || uid == 0 || root == "" {
		return nil
	}
	return filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(p, uid, gid); err != nil {
			return fmt.Errorf("chown %s to the CNB user %d:%d: %w", p, uid, gid, err)
		}
		return nil
	})
}

// openCache opens -cache-image or -cache-dir; nil when neither is given.
func openCache(ctx context.Context, in *platform.Inputs, o IO) (cache.Cache, *cache.Metadata, error) {
	return cache.Open(ctx, cache.Options{
		Image: in.CacheImage, Dir: in.CacheDir, Registry: o.Registry,
		Waiting: func() { fmt.Fprintf(o.Stdout, "Waiting for another build using the cache %s\n", in.CacheDir) },
	}, o.warnf)
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
