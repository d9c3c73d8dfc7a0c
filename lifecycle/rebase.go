package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/slipway/slipway/platform"
)

// RebaseInputs is what the rebaser needs (platform.md, rebaser).
type RebaseInputs struct {
	// App is the image to rebase; its io.buildpacks.lifecycle.metadata label says where its
	// run image ends (runImage.topLayer).
	App v1.Image
	// NewRunImage is the base to put under the app layers.
	NewRunImage v1.Image
	// NewRunImageRef identifies its exact content (name@sha256:…); recorded as
	// runImage.reference.
	NewRunImageRef string
	// NewRunImageName is the name the new run image was found under. Without Force it must
	// be runImage.image or one of runImage.mirrors, compared by repository (platform.md, rebaser).
	NewRunImageName string
	// Force turns the platform.md, rebaser refusals into warnings.
	Force bool
	// Log receives warnings; nil discards them (they are also in the report).
	Log io.Writer
}

// RebaseReport says what a rebase changed.
type RebaseReport struct {
	Old, New RunImageForRebase // runImage of the label before and after
	// UpToDate is true when the new run image's layers are exactly the ones the app sits on.
	UpToDate bool
	// Warnings are the refusals Force overrode.
	Warnings []string
}

// RebaseRefusedError is a platform.md, rebaser check that failed without Force.
type RebaseRefusedError struct {
	Reason string
}

func (e *RebaseRefusedError) Error() string {
	return e.Reason + "; pass --force to rebase anyway"
}

// ReadLayersMetadata decodes the io.buildpacks.lifecycle.metadata label of img (
// platform.md, io.buildpacks.lifecycle.metadata (JSON)). An image without the label was not built by a CNB platform and is an error.
func ReadLayersMetadata(img v1.Image) (*LayersMetadata, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read image config: %w", err)
	}
	raw := cf.Config.Labels[platform.LabelLifecycleMetadata]
	if raw == "" {
		return nil, fmt.Errorf("image has no %s label; only images built by a buildpacks platform can be rebased", platform.LabelLifecycleMetadata)
	}
	var m LayersMetadata
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return nil, fmt.Errorf("parse label %s: %w", platform.LabelLifecycleMetadata, err)
	}
	return &m, nil
}

// RunImageNames lists where newer versions of the run image may be found: runImage.image and
// its mirrors, else the deprecated stack.runImage (platform.md, io.buildpacks.lifecycle.metadata (JSON)).
func (m *LayersMetadata) RunImageNames() []string {
	if m.RunImage.Image != "" {
		return append([]string{m.RunImage.Image}, m.RunImage.Mirrors...)
	}
	if m.Stack != nil && m.Stack.RunImage.Image != "" {
		return append([]string{m.Stack.RunImage.Image}, m.Stack.RunImage.Mirrors...)
	}
	return nil
}

// Rebase puts the app layers of in.App on in.NewRunImage (platform.md, rebaser): every layer up
// to and including runImage.topLayer is replaced by the new run image's layers, the layers
// above are kept as they are, and only the config and manifest change. The app's config is
// kept (as the reference rebaser keeps it) except os/arch/variant, which follow the new base,
// and the io.buildpacks.base.* / io.buildpacks.stack.* labels, which are the new base's.
// `created` is not touched. The manifest keeps the app's media-type family: new base layers
// of the other family are relabelled, so podman and skopeo can still read the result.
// Errors carry exit code 72; platform.md, rebaser refusals are *RebaseRefusedError.
func Rebase(ctx context.Context, in RebaseInputs) (v1.Image, *RebaseReport, error) {
	img, rep, err := rebase(ctx, in)
	if err != nil {
		return nil, nil, platform.NewError(platform.CodeRebaseError, err)
	}
	return img, rep, nil
}

func rebase(ctx context.Context, in RebaseInputs) (v1.Image, *RebaseReport, error) {
	if in.App == nil || in.NewRunImage == nil {
		return nil, nil, errors.New("rebase: app image and new run image are both required")
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	appCF, err := in.App.ConfigFile()
	if err != nil {
		return nil, nil, fmt.Errorf("read app image config: %w", err)
	}
	meta, err := ReadLayersMetadata(in.App)
	if err != nil {
		return nil, nil, err
	}
	rep := &RebaseReport{Old: meta.RunImage}
	rep.Old.Mirrors = slices.Clone(meta.RunImage.Mirrors)

	appLayers, err := in.App.Layers()
	if err != nil {
		return nil, nil, fmt.Errorf("read app image layers: %w", err)
	}
	diffIDs := appCF.RootFS.DiffIDs
	if len(diffIDs) != len(appLayers) {
		return nil, nil, fmt.Errorf("app image config lists %d layers, its manifest %d", len(diffIDs), len(appLayers))
	}
	top := slices.IndexFunc(diffIDs, func(h v1.Hash) bool { return h.String() == meta.RunImage.TopLayer })
	if meta.RunImage.TopLayer == "" || top < 0 {
		return nil, nil, fmt.Errorf("run image top layer %q recorded in label %s is not a layer of the app image; the label does not describe this image, rebuild it", meta.RunImage.TopLayer, platform.LabelLifecycleMetadata)
	}

	newCF, err := in.NewRunImage.ConfigFile()
	if err != nil {
		return nil, nil, fmt.Errorf("read new run image config: %w", err)
	}
	newLayers, err := in.NewRunImage.Layers()
	if err != nil {
		return nil, nil, fmt.Errorf("read new run image layers: %w", err)
	}
	if len(newLayers) == 0 || len(newCF.RootFS.DiffIDs) != len(newLayers) {
		return nil, nil, fmt.Errorf("new run image %s has %d layers and %d diffIDs; it is not a usable base", in.NewRunImageName, len(newLayers), len(newCF.RootFS.DiffIDs))
	}

	warn := func(msg string) error {
		if !in.Force {
			return &RebaseRefusedError{Reason: msg}
		}
		rep.Warnings = append(rep.Warnings, msg)
		if in.Log != nil {
			fmt.Fprintf(in.Log, "Warning: %s\n", msg)
		}
		return nil
	}
	if appCF.Config.Labels[platform.LabelRebasable] == "false" {
		if err := warn(fmt.Sprintf("app image is marked %s=false", platform.LabelRebasable)); err != nil {
			return nil, nil, err
		}
	}
	appTarget, newTarget := platform.TargetOf(appCF), platform.TargetOf(newCF)
	if !targetSatisfiedForRebase(newTarget, appTarget) {
		if err := warn(fmt.Sprintf("new run image target %s does not match the app image's %s", targetString(newTarget), targetString(appTarget))); err != nil {
			return nil, nil, err
		}
	}
	named := meta.containsRunImage(in.NewRunImageName)
	if !named {
		if err := warn(fmt.Sprintf("new run image %q is not the app's run image or one of its mirrors (%s)", in.NewRunImageName, strings.Join(meta.RunImageNames(), ", "))); err != nil {
			return nil, nil, err
		}
	}

	oldBase := diffIDs[:top+1]
	rep.UpToDate = slices.Equal(oldBase, newCF.RootFS.DiffIDs)

	// Labels: the new base's io.buildpacks.base.* and io.buildpacks.stack.* replace the old
	// base's (platform.md, rebaser), and runImage points at the new base.
	cf := appCF.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant, cf.OSVersion = newCF.OS, newCF.Architecture, newCF.Variant, newCF.OSVersion
	if cf.Config.Labels == nil {
		cf.Config.Labels = map[string]string{}
	}
	baseLabel := func(k string) bool {
		return strings.HasPrefix(k, "io.buildpacks.base.") || strings.HasPrefix(k, "io.buildpacks.stack.")
	}
	for k := range cf.Config.Labels {
		if baseLabel(k) {
			delete(cf.Config.Labels, k)
		}
	}
	for k, v := range newCF.Config.Labels {
		if baseLabel(k) {
			cf.Config.Labels[k] = v
		}
	}
	meta.RunImage.TopLayer = newCF.RootFS.DiffIDs[len(newLayers)-1].String()
	meta.RunImage.Reference = in.NewRunImageRef
	if !named {
		// Forced onto a base the label does not name: record it, and forget mirrors that are
		// mirrors of something else (platform.md, rebaser).
		meta.RunImage.Image = in.NewRunImageName
		meta.RunImage.Mirrors = nil
		meta.Stack = &StackMetadata{RunImage: RunImageForExport{Image: in.NewRunImageName}}
	}
	rep.New = meta.RunImage
	b, err := json.Marshal(meta)
	if err != nil {
		return nil, nil, fmt.Errorf("encode label %s: %w", platform.LabelLifecycleMetadata, err)
	}
	cf.Config.Labels[platform.LabelLifecycleMetadata] = string(b)
	cf.RootFS.DiffIDs = append(slices.Clone(newCF.RootFS.DiffIDs), diffIDs[top+1:]...)
	cf.History = append(baseHistory(newCF.History, len(newLayers)), appHistoryAbove(appCF.History, len(appLayers), top+1)...)

	img, err := assembleRebased(in.App, append(slices.Clone(newLayers), appLayers[top+1:]...), cf)
	if err != nil {
		return nil, nil, err
	}
	return img, rep, nil
}

// assembleRebased builds the image from layers and config in the app's manifest family.
// Layers are passed through untouched (remote layers stay mountable, so a registry rebase
// uploads only config and manifest); only their manifest descriptors get a family media type.
func assembleRebased(app v1.Image, layers []v1.Layer, cf *v1.ConfigFile) (v1.Image, error) {
	mt, err := app.MediaType()
	if err != nil {
		return nil, fmt.Errorf("read app image media type: %w", err)
	}
	m, err := app.Manifest()
	if err != nil {
		return nil, fmt.Errorf("read app image manifest: %w", err)
	}
	docker := mt == types.DockerManifestSchema2
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, mt), m.Config.MediaType)
	adds := make([]mutate.Addendum, 0, len(layers))
	for i, l := range layers {
		lmt, err := l.MediaType()
		if err != nil {
			return nil, fmt.Errorf("read media type of layer %d: %w", i, err)
		}
		famMT, err := familyLayerType(lmt, docker)
		if err != nil {
			return nil, err
		}
		if famMT != lmt {
			l = relabel(l, famMT)
		}
		adds = append(adds, mutate.Addendum{Layer: l, MediaType: famMT})
	}
	img, err := mutate.Append(base, adds...)
	if err != nil {
		return nil, fmt.Errorf("assemble rebased image: %w", err)
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, fmt.Errorf("set rebased image config: %w", err)
	}
	return img, nil
}

// typedLayer is a layer whose bytes are unchanged but whose media type is in the other
// family (gzip tar is gzip tar in both).
type typedLayer struct {
	v1.Layer
	mt types.MediaType
}

func (l typedLayer) MediaType() (types.MediaType, error) { return l.mt, nil }

// relabel gives l media type mt. A registry layer stays mountable, so the push still mounts it
// from the run image's repository instead of uploading it.
func relabel(l v1.Layer, mt types.MediaType) v1.Layer {
	if ml, ok := l.(*remote.MountableLayer); ok {
		return &remote.MountableLayer{Layer: typedLayer{ml.Layer, mt}, Reference: ml.Reference}
	}
	return typedLayer{l, mt}
}

// familyLayerType maps a layer media type to the Docker or OCI family. gzip and uncompressed
// tars exist in both; zstd has no Docker form.
func familyLayerType(mt types.MediaType, docker bool) (types.MediaType, error) {
	pick := func(d, o types.MediaType) types.MediaType {
		if docker {
			return d
		}
		return o
	}
	switch mt {
	case types.DockerLayer, types.OCILayer:
		return pick(types.DockerLayer, types.OCILayer), nil
	case types.DockerUncompressedLayer, types.OCIUncompressedLayer:
		return pick(types.DockerUncompressedLayer, types.OCIUncompressedLayer), nil
	case types.DockerForeignLayer, types.OCIRestrictedLayer:
		return pick(types.DockerForeignLayer, types.OCIRestrictedLayer), nil
	case types.OCIUncompressedRestrictedLayer:
		return pick(types.DockerForeignLayer, mt), nil
	case types.OCILayerZStd:
		if docker {
			return "", fmt.Errorf("the new run image has a zstd layer, which a Docker-media-type app image cannot hold; rebuild the app on this run image instead")
		}
	}
	return mt, nil
}

// baseHistory is the new base's history, or one blank entry per layer when it does not line
// up with the layers (as the exporter does, so history and layers stay aligned).
func baseHistory(h []v1.History, layers int) []v1.History {
	if nonEmptyHistory(h) == layers {
		return slices.Clone(h)
	}
	return make([]v1.History, layers)
}

// appHistoryAbove returns the history entries of the app layers from index from on, with
// the empty-layer entries between them; blank entries when history is not aligned.
func appHistoryAbove(h []v1.History, layers, from int) []v1.History {
	if nonEmptyHistory(h) != layers {
		return make([]v1.History, layers-from)
	}
	seen := 0
	for i, e := range h {
		if e.EmptyLayer {
			continue
		}
		if seen == from {
			return slices.Clone(h[i:])
		}
		seen++
	}
	return nil
}

// targetSatisfiedForRebase is the reference lifecycle's target check of platform.md, rebaser: os and arch must be
// equal; variant and distro name/version match when either side leaves them empty.
func targetSatisfiedForRebase(base, app platform.TargetMetadata) bool {
	if base.OS != app.OS || base.Arch != app.Arch {
		return false
	}
	if base.ArchVariant != "" && app.ArchVariant != "" && base.ArchVariant != app.ArchVariant {
		return false
	}
	if base.Distro == nil {
		return true
	}
	if app.Distro == nil {
		return false
	}
	if base.Distro.Name != "" && base.Distro.Name != app.Distro.Name {
		return false
	}
	return base.Distro.Version == "" || base.Distro.Version == app.Distro.Version
}

func targetString(t platform.TargetMetadata) string {
	s := t.OS + "/" + t.Arch
	if t.ArchVariant != "" {
		s += "/" + t.ArchVariant
	}
	if t.Distro != nil {
		s += " " + t.Distro.Name + " " + t.Distro.Version
	}
	return strings.TrimSpace(s)
}

// containsRunImage reports whether ref names the run image or a mirror, by repository: tags
// and digests do not matter, so a newer digest of the same name never needs force (
// platform.md, rebaser). Names are compared both as registry names (docker.io default) and as local-store
// names (localhost default), so "run" matches "localhost/run:latest".
func (m *LayersMetadata) containsRunImage(ref string) bool {
	if ref == "" {
		return false
	}
	return slices.ContainsFunc(m.RunImageNames(), func(n string) bool { return SameRepository(n, ref) })
}

// SameRepository reports whether two image references name the same repository, ignoring
// tag and digest.
func SameRepository(a, b string) bool {
	for _, opts := range [][]name.Option{nil, {name.WithDefaultRegistry("localhost")}} {
		ra, errA := name.ParseReference(a, opts...)
		rb, errB := name.ParseReference(b, opts...)
		if errA == nil && errB == nil && ra.Context().Name() == rb.Context().Name() {
			return true
		}
	}
	return a == b
}
