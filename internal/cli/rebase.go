package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/slipway/slipway/imagestore"
	"github.com/slipway/slipway/lifecycle"
	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/registry"
	"github.com/slipway/slipway/tomlfile"
)

// rebaseCmd holds the flags of `slipway rebase` (platform.md, rebaser).
type rebaseCmd struct {
	g          *globals
	runImage   string
	previous   string
	reportPath string
	publish    bool
	force      bool
	dryRun     bool
	insecure   []string

	store *imagestore.Store
	ro    registry.Options
}

func newRebaseCmd(g *globals) *cobra.Command {
	rc := &rebaseCmd{g: g}
	cmd := &cobra.Command{
		Use:   "rebase IMAGE...",
		Short: "Put an app image on a newer run image without rebuilding it",
		Long: `Replaces the run image layers under each app image with those of a newer run image and keeps the
app layers as they are (platform.md, rebaser). The new run image is --run-image, or else the newest
image under the run image name (or a mirror) recorded in the app image. Images are read from and
written to the local store, or their registry with --publish; a registry rebase uploads only the
new config and manifest.`,
		Example: `  slipway rebase myapp
  slipway rebase myapp --run-image registry.example.com/run:bookworm
  slipway rebase 127.0.0.1:5000/app1 127.0.0.1:5000/app2 --publish --dry-run`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return rc.run(cmd.Context(), args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&rc.runImage, "run-image", "", "run image to rebase onto (default: the run image recorded in the app image, newest digest)")
	f.StringVar(&rc.previous, "previous-image", "", "read the app image from this name and write the result as IMAGE (one IMAGE only)")
	f.BoolVar(&rc.publish, "publish", false, "read and write the images in their registry instead of the local store")
	f.BoolVar(&rc.force, "force", false, "rebase even when the checks of platform.md, rebaser fail (they become warnings)")
	f.BoolVar(&rc.dryRun, "dry-run", false, "print what would change for each image without writing anything")
	f.StringVar(&rc.reportPath, "report", "", "write report.toml (image name, digest, manifest size) here (one IMAGE only)")
	addInsecureRegistryFlag(f, &rc.insecure)
	return cmd
}

func (rc *rebaseCmd) run(ctx context.Context, images []string) error {
	if len(images) > 1 && (rc.previous != "" || rc.reportPath != "") {
		return platform.NewError(platform.CodeInvalidArgs, errors.New("--previous-image and --report take a single IMAGE"))
	}
	var err error
	if rc.ro, err = registryOptions(rc.insecure); err != nil {
		return err
	}
	if !rc.publish {
		if rc.store, err = rc.g.store(); err != nil {
			return err
		}
	}
	var first error
	failed := 0
	for _, img := range images {
		if err := rc.one(ctx, img); err != nil {
			if len(images) == 1 {
				return err
			}
			fmt.Fprintf(rc.g.stderr, "error: rebase %s: %v\n", img, err)
			failed++
			if first == nil {
				first = err
			}
		}
	}
	if failed > 0 {
		return platform.NewError(platform.ExitCode(first), fmt.Errorf("rebase failed for %d of %d images", failed, len(images)))
	}
	return nil
}

// one rebases one image (or, with --dry-run, says what a rebase would change).
func (rc *rebaseCmd) one(ctx context.Context, image string) error {
	fail := func(err error) error { return platform.NewError(platform.CodeRebaseError, err) }
	src := image
	if rc.previous != "" {
		src = rc.previous
	}
	app, err := rc.image(ctx, src, false)
	if err != nil {
		return fail(fmt.Errorf("read app image: %w", err))
	}
	oldDigest, err := app.Digest()
	if err != nil {
		return fail(fmt.Errorf("digest of app image %s: %w", src, err))
	}
	meta, err := lifecycle.ReadLayersMetadata(app)
	if err != nil {
		return fail(fmt.Errorf("app image %s: %w", src, err))
	}
	runName, run, err := rc.newRunImage(ctx, image, meta)
	if err != nil {
		return fail(err)
	}
	runDigest, err := run.Digest()
	if err != nil {
		return fail(fmt.Errorf("digest of run image %s: %w", runName, err))
	}
	img, rep, err := lifecycle.Rebase(ctx, lifecycle.RebaseInputs{
		App: app, NewRunImage: run, NewRunImageRef: rc.repository(runName) + "@" + runDigest.String(),
		NewRunImageName: runName, Force: rc.force,
	})
	if err != nil {
		return err
	}
	log := rc.g.logger()
	for _, w := range rep.Warnings {
		log.Warnf("%s: %s (--force)", image, w)
	}
	if rc.dryRun {
		if rep.UpToDate {
			fmt.Fprintf(rc.g.stdout, "%s: up to date (run image %s)\n", image, rep.Old.Reference)
		} else {
			fmt.Fprintf(rc.g.stdout, "%s: would rebase from %s to %s\n", image, rep.Old.Reference, rep.New.Reference)
		}
		return nil
	}
	newDigest, err := img.Digest()
	if err != nil {
		return fail(fmt.Errorf("digest of rebased image: %w", err))
	}
	if newDigest == oldDigest && src == image {
		fmt.Fprintf(rc.g.stdout, "%s is up to date (run image %s)\n", image, rep.New.Reference)
	} else {
		if rc.publish {
			newDigest, err = registry.Write(ctx, image, img, rc.ro)
		} else {
			newDigest, err = rc.store.Write(ctx, image, img)
		}
		if err != nil {
			return fail(fmt.Errorf("write rebased image %s: %w", image, err))
		}
		fmt.Fprintf(rc.g.stdout, "Rebased %s onto %s: %s\n", image, rep.New.Reference, newDigest)
	}
	if rc.reportPath != "" {
		raw, err := img.RawManifest()
		if err != nil {
			return fail(fmt.Errorf("read rebased manifest: %w", err))
		}
		r := platform.Report{Image: platform.ImageReport{Tags: []string{rc.fullName(image)}, Digest: newDigest.String(), ManifestSize: int64(len(raw))}}
		if err := tomlfile.Write(rc.reportPath, r); err != nil {
			return fail(fmt.Errorf("write report --report %s: %w", rc.reportPath, err))
		}
	}
	return nil
}

// newRunImage finds the base to rebase onto: --run-image, else the first readable of the
// recorded run image and its mirrors. With --publish, names on the app's registry come first
// (platform.md, Run Image Resolution).
func (rc *rebaseCmd) newRunImage(ctx context.Context, image string, meta *lifecycle.LayersMetadata) (string, v1.Image, error) {
	if rc.runImage != "" {
		img, err := rc.image(ctx, rc.runImage, true)
		if err != nil {
			return "", nil, fmt.Errorf("read run image --run-image %s: %w", rc.runImage, err)
		}
		return rc.runImage, img, nil
	}
	names := meta.RunImageNames()
	if len(names) == 0 {
		return "", nil, errors.New("the app image records no run image name; pass --run-image")
	}
	if rc.publish {
		if r, err := registry.ParseReference(image, rc.ro); err == nil {
			reg := r.Context().RegistryStr()
			slices.SortStableFunc(names, func(a, b string) int { return rank(a, reg, rc.ro) - rank(b, reg, rc.ro) })
		}
	}
	var errs []error
	for _, n := range names {
		img, err := rc.image(ctx, n, true)
		if err == nil {
			return n, img, nil
		}
		errs = append(errs, err)
	}
	return "", nil, fmt.Errorf("no run image found under %v (pass --run-image): %w", names, errors.Join(errs...))
}

// rank is 0 for names on registry reg, 1 otherwise.
func rank(ref, reg string, ro registry.Options) int {
	if r, err := registry.ParseReference(ref, ro); err == nil && r.Context().RegistryStr() == reg {
		return 0
	}
	return 1
}

// image reads ref from the registry (--publish) or the local store; run images missing from
// the store are pulled from their registry, as build does.
func (rc *rebaseCmd) image(ctx context.Context, ref string, pull bool) (v1.Image, error) {
	if rc.publish {
		return registry.Image(ctx, ref, rc.ro)
	}
	img, err := rc.store.Image(ref)
	var nf *imagestore.NotFoundError
	if pull && errors.As(err, &nf) {
		if rimg, rerr := registry.Image(ctx, ref, rc.ro); rerr == nil {
			return rimg, nil
		}
	}
	return img, err
}

// repository is ref's repository as the store or registry names it (no tag or digest).
func (rc *rebaseCmd) repository(ref string) string {
	var r name.Reference
	var err error
	if rc.publish {
		r, err = registry.ParseReference(ref, rc.ro)
	} else {
		r, err = imagestore.Normalize(ref)
	}
	if err != nil {
		return ref
	}
	return r.Context().Name()
}

func (rc *rebaseCmd) fullName(ref string) string {
	if rc.publish {
		if r, err := registry.ParseReference(ref, rc.ro); err == nil {
			return r.Name()
		}
		return ref
	}
	if r, err := imagestore.Normalize(ref); err == nil {
		return r.Name()
	}
	return ref
}
