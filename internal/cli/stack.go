package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/slipway/slipway/imagestore"
	"github.com/slipway/slipway/logging"
	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/stack"
)

func newStackCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "stack",
		Short: "Make base images (build and run image) from Debian packages",
	}
	cmd.AddCommand(newStackBuildCmd(g), newStackDefaultCmd(g))
	return cmd
}

func newStackBuildCmd(g *globals) *cobra.Command {
	var (
		config   string
		publish  bool
		insecure []string
		cacheDir string
	)
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build a stack's build and run images from Debian packages",
		Long: `Reads a stack.toml (or the built-in Debian 12 bookworm stack), verifies the apt repositories'
signed InRelease files, resolves and downloads the packages (cached by SHA256), and assembles the
build and run images without dpkg, apt or a daemon. Maintainer scripts are not run. The images
go to the local store, or to their registry with --publish. The same package versions give the
same image digests.`,
		Example: `  slipway stack build
  slipway stack default > stack.toml && slipway stack build --config stack.toml
  slipway stack build --config stack.toml --publish --insecure-registry 127.0.0.1:5000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var def *stack.Definition
			var err error
			if config == "" {
				def, err = stack.Default()
			} else {
				def, err = stack.ReadDefinition(config)
			}
			if err != nil {
				return err
			}
			o := stack.BuildOptions{CacheDir: cacheDir, Log: g.logger()}
			if o.Created, err = platform.SourceDateEpoch(os.Environ()); err != nil {
				return err
			}
			start := time.Now()
			res, err := stack.Build(cmd.Context(), def, o)
			if err != nil {
				return err
			}
			ropts, err := registryOptions(insecure)
			if err != nil {
				return err
			}
			var s *imagestore.Store
			if !publish {
				if s, err = g.store(); err != nil {
					return err
				}
			}
			for _, b := range []stack.BuiltImage{res.Build, res.Run} {
				digest, err := writeImage(cmd.Context(), s, b.Name, b.Image, publish, ropts)
				if err != nil {
					return fmt.Errorf("write image %s: %w", b.Name, err)
				}
				size, err := compressedSize(b.Image)
				if err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "Successfully built image %s (%s): %d packages, %s compressed\n", b.Name, digest, len(b.Packages), logging.Bytes(size))
			}
			fmt.Fprintf(g.stdout, "Stack built in %s\n", time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&config, "config", "c", "", "stack.toml (default: the built-in Debian 12 bookworm stack; see `slipway stack default`)")
	f.BoolVar(&publish, "publish", false, "push the images to their registries instead of the local store")
	addInsecureRegistryFlag(f, &insecure)
	f.StringVar(&cacheDir, "cache-dir", filepath.Join(cacheHome(), "slipway", "debs"), "download cache of .debs and indexes (by SHA256)")
	return cmd
}

func newStackDefaultCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "default",
		Short:   "Print the built-in stack.toml (Debian 12 bookworm), a starting point for your own",
		Example: "  slipway stack default > stack.toml",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := g.stdout.Write(stack.DefaultConfig())
			return err
		},
	}
}

// compressedSize is the sum of the image's compressed layer sizes: what a pull moves.
func compressedSize(img v1.Image) (int64, error) {
	layers, err := img.Layers()
	if err != nil {
		return 0, fmt.Errorf("read layers: %w", err)
	}
	var n int64
	for _, l := range layers {
		s, err := l.Size()
		if err != nil {
			return 0, fmt.Errorf("read layer size: %w", err)
		}
		n += s
	}
	return n, nil
}
