package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/slipway/slipway/builder"
)

func newBuildpackCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "buildpack",
		Short: "Package buildpacks",
	}
	cmd.AddCommand(newBuildpackPackageCmd(g))
	return cmd
}

func newBuildpackPackageCmd(g *globals) *cobra.Command {
	var (
		config   string
		format   string
		publish  bool
		insecure []string
	)
	cmd := &cobra.Command{
		Use:   "package NAME --config package.toml",
		Short: "Package a buildpack and its dependencies as a .cnb file or an image",
		Long: `Writes a buildpackage: one layer per buildpack at /cnb/buildpacks/<id>/<version>, with the
labels pack uses. --format file writes NAME as a .cnb (an uncompressed tar of an OCI image
layout); --format image stores NAME in the local store, or pushes it with --publish.`,
		Example: `  slipway buildpack package my-bp.cnb --config ./package.toml --format file
  slipway buildpack package my-bp --config ./package.toml
  slipway build myapp --path ./app --builder ./builder.toml --buildpack ./my-bp.cnb`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if config == "" {
				return errors.New("no package config: pass --config package.toml")
			}
			if format != "file" && format != "image" {
				return fmt.Errorf("--format %q: want file or image", format)
			}
			if publish && format == "file" {
				return errors.New("--publish pushes an image: use it with --format image")
			}
			ctx := cmd.Context()
			cfg, err := builder.ReadPackageConfig(config)
			if err != nil {
				return err
			}
			fetch, store, ro, err := imageFetcher(g, insecure)
			if err != nil {
				return err
			}
			scratch, err := scratchDir("package")
			if err != nil {
				return err
			}
			defer os.RemoveAll(scratch)
			img, err := builder.Package(ctx, builder.PackageOptions{Config: cfg, FetchImage: fetch, ScratchDir: scratch})
			if err != nil {
				return err
			}
			if format == "file" {
				if err := builder.WriteCNB(ctx, img, args[0]); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "Successfully wrote buildpackage %s\n", args[0])
				return nil
			}
			dig, err := writeImage(ctx, store, args[0], img, publish, ro)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "Successfully created buildpackage image %s (%s)\n", args[0], dig)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&config, "config", "c", "", "package.toml ([buildpack] uri, [[dependencies]] uri or image, [platform] os)")
	f.StringVarP(&format, "format", "f", "image", "output: file (.cnb) or image")
	f.BoolVar(&publish, "publish", false, "with --format image: push to the registry instead of the local store")
	addInsecureRegistryFlag(f, &insecure)
	return cmd
}
