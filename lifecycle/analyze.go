package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/slipway/slipway/platform"
)

// ImageSource finds images by reference: the local store, a registry, or both. It returns
// ErrImageNotFound (wrapped) when the image does not exist; other errors mean the source
// could not be asked (unreachable registry, no access).
type ImageSource interface {
	Image(ctx context.Context, ref string) (v1.Image, error)
}

// ErrImageNotFound is what ImageSource returns for an image that does not exist.
var ErrImageNotFound = errors.New("image not found")

// RunImageCandidates is one [[images]] entry of run.toml (platform.md, Files).
type RunImageCandidates struct {
	Image   string
	Mirrors []string
}

// AnalyzeInputs are the analyzer's inputs (platform.md, analyzer).
type AnalyzeInputs struct {
	// OutputImage is <image>; PreviousImage defaults to it (-previous-image).
	OutputImage, PreviousImage string
	// RunImage is -run-image; when empty the run image comes from RunImages (run.toml).
	RunImage  string
	RunImages []RunImageCandidates
	Images    ImageSource
	// PreviousImages finds the previous image; nil means Images. A local build looks only in
	// the local store, a published one only in the registry.
	PreviousImages ImageSource
}

// Analysis is the analyzer's result (analyzed.toml, platform.md, Files).
type Analysis struct {
	// Previous is nil when there is no previous image; PreviousMetadata is its label.
	Previous         v1.Image
	PreviousRef      string
	PreviousMetadata *LayersMetadata

	// RunImage is the image actually used; RunImageRef its digest reference (recorded as
	// runImage.reference); RunImageName and RunImageMirrors are recorded as runImage.image
	// and mirrors (the run.toml entry holding the chosen image, platform.md, Run Image Resolution).
	RunImage        v1.Image
	RunImageRef     string
	RunImageName    string
	RunImageMirrors []string
	// RunImageSource is the candidate actually read (the image or one of its mirrors).
	RunImageSource string
}

// Analyze finds the previous image and chooses the run image (platform.md, analyzer; platform.md, Run Image Resolution).
func Analyze(ctx context.Context, in AnalyzeInputs) (*Analysis, error) {
	a := &Analysis{}
	prev := in.PreviousImage
	if prev == "" {
		prev = in.OutputImage
	}
	if prev != "" {
		src := in.PreviousImages
		if src == nil {
			src = in.Images
		}
		img, err := src.Image(ctx, prev)
		switch {
		case errors.Is(err, ErrImageNotFound):
			// References to images that do not exist yet are accepted (platform.md, analyzer).
		case err != nil:
			return nil, fmt.Errorf("read previous image %s: %w", prev, err)
		default:
			a.Previous, a.PreviousRef = img, prev
			md, err := previousMetadata(img)
			if err != nil {
				return nil, fmt.Errorf("previous image %s: %w", prev, err)
			}
			a.PreviousMetadata = md
		}
	}
	if err := chooseRunImage(ctx, in, a); err != nil {
		return nil, err
	}
	return a, nil
}

// previousMetadata parses the io.buildpacks.lifecycle.metadata label; nil without one (an
// image not built with buildpacks is still a valid previous image, it just reuses nothing).
func previousMetadata(img v1.Image) (*LayersMetadata, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	raw := cf.Config.Labels[platform.LabelLifecycleMetadata]
	if raw == "" {
		return nil, nil
	}
	var m LayersMetadata
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return nil, fmt.Errorf("parse label %s: %w", platform.LabelLifecycleMetadata, err)
	}
	return &m, nil
}

// chooseRunImage applies platform.md, Run Image Resolution: among image and mirrors, prefer one on the output image's
// registry that is readable, else the first readable one; the label records the first
// run.toml entry containing the chosen image (or just the chosen image for -run-image
// outside run.toml), and the reference of the image actually used.
func chooseRunImage(ctx context.Context, in AnalyzeInputs, a *Analysis) error {
	var candidates []string
	entry := RunImageCandidates{}
	if in.RunImage != "" {
		candidates = []string{in.RunImage}
		entry = RunImageCandidates{Image: in.RunImage}
		for _, e := range in.RunImages {
			if e.Image == in.RunImage || contains(e.Mirrors, in.RunImage) {
				entry = e
				break
			}
		}
	} else {
		if len(in.RunImages) == 0 {
			return errors.New("no run image: the builder lists no [[run.images]] and no --run-image was given")
		}
		entry = in.RunImages[0]
		candidates = append([]string{entry.Image}, entry.Mirrors...)
		if reg := registryOf(in.OutputImage); reg != "" {
			var same, other []string
			for _, c := range candidates {
				if registryOf(c) == reg {
					same = append(same, c)
				} else {
					other = append(other, c)
				}
			}
			candidates = append(same, other...)
		}
	}
	var errs []error
	for _, c := range candidates {
		img, err := in.Images.Image(ctx, c)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c, err))
			continue
		}
		d, err := img.Digest()
		if err != nil {
			return fmt.Errorf("digest of run image %s: %w", c, err)
		}
		repo := c
		if r, err := name.ParseReference(c); err == nil {
			repo = r.Context().Name()
		}
		a.RunImage, a.RunImageRef = img, repo+"@"+d.String()
		a.RunImageName, a.RunImageMirrors, a.RunImageSource = entry.Image, entry.Mirrors, c
		return nil
	}
	return fmt.Errorf("no run image is readable (tried %v): %w", candidates, errors.Join(errs...))
}

func registryOf(ref string) string {
	r, err := name.ParseReference(ref)
	if err != nil {
		return ""
	}
	return r.Context().RegistryStr()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// MetadataTable turns the previous image's metadata label into the [metadata] table of
// analyzed.toml (platform.md, analyzer). TOML has no null, so null values are dropped.
func MetadataTable(md *LayersMetadata) (map[string]any, error) {
	b, err := json.Marshal(md)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return dropNulls(m).(map[string]any), nil
}

func dropNulls(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if e == nil {
				delete(x, k)
				continue
			}
			x[k] = dropNulls(e)
		}
	case []any:
		out := x[:0]
		for _, e := range x {
			if e != nil {
				out = append(out, dropNulls(e))
			}
		}
		return out
	}
	return v
}

// PreviousMetadata reads the [metadata] table of analyzed.toml back as the label's type; nil
// when there is no previous image.
func PreviousMetadata(a *platform.Analyzed) (*LayersMetadata, error) {
	if a == nil || len(a.Metadata) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(a.Metadata)
	if err != nil {
		return nil, err
	}
	var md LayersMetadata
	if err := json.Unmarshal(b, &md); err != nil {
		return nil, fmt.Errorf("parse [metadata] of analyzed.toml: %w", err)
	}
	return &md, nil
}
