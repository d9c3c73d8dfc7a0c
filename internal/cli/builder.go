package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/slipway/slipway/version"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/slipway/slipway/builder"
	"github.com/slipway/slipway/imagestore"
	"github.com/slipway/slipway/registry"
)

func newBuilderCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "builder",
		Short: "Create and inspect builder images (pack-compatible)",
	}
	cmd.AddCommand(newBuilderCreateCmd(g), newBuilderInspectCmd(g))
	return cmd
}

func newBuilderCreateCmd(g *globals) *cobra.Command {
	var (
		config   string
		publish  bool
		insecure []string
	)
	cmd := &cobra.Command{
		Use:   "create NAME --config builder.toml",
		Short: "Create a builder image from a builder.toml",
		Long: `Writes a builder image: the build image plus the buildpacks at /cnb/buildpacks, order.toml,
run.toml and slipway itself as the lifecycle in /cnb/lifecycle, with the labels pack uses.
` + "`slipway build --builder NAME`" + ` and ` + "`pack build --builder NAME`" + ` can use it.`,
		Example: `  slipway builder create my-builder --config ./builder.toml
  slipway builder create 127.0.0.1:5000/my-builder --config ./builder.toml --publish --insecure-registry 127.0.0.1:5000`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if config == "" {
				return errors.New("no builder config: pass --config builder.toml")
			}
			ctx := cmd.Context()
			cfg, err := builder.ReadConfig(config)
			if err != nil {
				return err
			}
			fetch, store, ro, err := imageFetcher(g, insecure)
			if err != nil {
				return err
			}
			scratch, err := scratchDir("builder")
			if err != nil {
				return err
			}
			defer os.RemoveAll(scratch)
			if err := builder.ResolveBuildpackages(ctx, cfg, filepath.Join(scratch, "packages"), fetch); err != nil {
				return err
			}
			descs, err := builder.FetchBuildpacks(ctx, cfg, filepath.Join(scratch, "buildpacks"))
			if err != nil {
				return err
			}
			buildImg, err := fetch(ctx, cfg.Build.Image)
			if err != nil {
				return fmt.Errorf("%s: [build] image: %w", config, err)
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("find the slipway binary: %w", err)
			}
			launcher, err := launcherPath(cmd.Context(), g, filepath.Join(cacheHome(), "slipway"))
			if err != nil {
				return err
			}
			img, err := builder.Create(ctx, builder.CreateOptions{
				Config: cfg, Buildpacks: descs, BuildImage: buildImg,
				LifecycleBinary: exe, Phases: phaseNames(), LauncherPath: launcher,
				Version: version.Version, ScratchDir: scratch,
			})
			if err != nil {
				return err
			}
			dig, err := writeImage(ctx, store, args[0], img, publish, ro)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "Successfully created builder image %s (%s)\n", args[0], dig)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&config, "config", "c", "", "builder.toml (pack format: [[buildpacks]], [[order]], [build] image, [[run.images]])")
	f.BoolVar(&publish, "publish", false, "push the builder to its registry instead of the local store")
	addInsecureRegistryFlag(f, &insecure)
	return cmd
}

func newBuilderInspectCmd(g *globals) *cobra.Command {
	var f inspectFlags
	cmd := &cobra.Command{
		Use:   "inspect NAME",
		Short: "Show a builder image's buildpacks, order, run images and lifecycle",
		Example: `  slipway builder inspect my-builder
  slipway builder inspect paketobuildpacks/builder-jammy-base --remote --output json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			img, err := f.read(cmd.Context(), g, args[0])
			if err != nil {
				return err
			}
			info, err := builder.Inspect(img)
			if err != nil {
				return fmt.Errorf("inspect builder %s: %w", args[0], err)
			}
			info.Name = args[0]
			if f.output == "json" {
				return writeJSON(g.stdout, info)
			}
			printBuilderInfo(g, info)
			return nil
		},
	}
	f.register(cmd, "builder")
	return cmd
}

func printBuilderInfo(g *globals, info *builder.Info) {
	out := g.stdout
	fmt.Fprintf(out, "Builder:     %s\nDigest:      %s\nDescription: %s\nCreated by:  %s %s\n", info.Name, info.Digest, info.Description, info.CreatedBy.Name, info.CreatedBy.Version)
	if info.StackID != "" {
		fmt.Fprintf(out, "Stack:       %s\n", info.StackID)
	}
	fmt.Fprintf(out, "\nLifecycle:\n  Version: %s\n  Buildpack APIs: %s\n  Platform APIs:  %s\n", info.Lifecycle.Version,
		strings.Join(info.Lifecycle.APIs.Buildpack.Supported, ", "), strings.Join(info.Lifecycle.APIs.Platform.Supported, ", "))
	fmt.Fprintln(out, "\nRun images:")
	for _, r := range info.RunImages {
		fmt.Fprintf(out, "  %s\n", r.Image)
		for _, m := range r.Mirrors {
			fmt.Fprintf(out, "    mirror: %s\n", m)
		}
	}
	fmt.Fprintln(out, "\nBuildpacks:")
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "  ID\tVERSION\tAPI\tHOMEPAGE")
	for _, b := range info.Buildpacks {
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\n", b.ID, b.Version, b.API, b.Homepage)
	}
	w.Flush()
	fmt.Fprintln(out, "\nDetection order:")
	for i, grp := range info.Order {
		fmt.Fprintf(out, "  Group #%d:\n", i+1)
		for _, e := range grp.Group {
			opt := ""
			if e.Optional {
				opt = " (optional)"
			}
			fmt.Fprintf(out, "    %s%s\n", e.Ref(), opt)
		}
	}
}

// imageFetcher resolves image names in the local store first, then in their registry, the
// way builders and buildpackages reference their images.
func imageFetcher(g *globals, insecure []string) (builder.ImageFetcher, *imagestore.Store, registry.Options, error) {
	s, err := g.store()
	if err != nil {
		return nil, nil, registry.Options{}, err
	}
	ro, err := registryOptions(insecure)
	if err != nil {
		return nil, nil, registry.Options{}, err
	}
	fetch := func(ctx context.Context, ref string) (v1.Image, error) {
		img, err := s.Image(ref)
		if err == nil {
			return img, nil
		}
		var nf *imagestore.NotFoundError
		if !errors.As(err, &nf) {
			return nil, err
		}
		img, err = registry.Image(ctx, ref, ro)
		if err != nil {
			return nil, fmt.Errorf("image %s is not in the local store, and pulling it failed: %w", ref, err)
		}
		return img, nil
	}
	return fetch, s, ro, nil
}

// writeImage stores img under name, or pushes it with publish.
func writeImage(ctx context.Context, s *imagestore.Store, name string, img v1.Image, publish bool, ro registry.Options) (v1.Hash, error) {
	if publish {
		return registry.Write(ctx, name, img, ro)
	}
	return s.Write(ctx, name, img)
}

// scratchDir makes a private directory for layer blobs and laid-out buildpacks.
func scratchDir(kind string) (string, error) {
	base := filepath.Join(cacheHome(), "slipway", "tmp")
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", fmt.Errorf("create scratch directory in %s: %w", base, err)
	}
	d, err := os.MkdirTemp(base, kind+"-")
	if err != nil {
		return "", fmt.Errorf("create scratch directory in %s: %w", base, err)
	}
	return d, nil
}
