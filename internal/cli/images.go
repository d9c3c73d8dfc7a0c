package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/slipway/slipway/atomicfile"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/slipway/slipway/inspect"
	"github.com/slipway/slipway/logging"
	"github.com/slipway/slipway/registry"
)

func newImagesCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "images",
		Short:   "List the images in the local store",
		Example: "  slipway images",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := g.store()
			if err != nil {
				return err
			}
			entries, err := s.List()
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tDIGEST\tCREATED\tSIZE")
			for _, e := range entries {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", e.Name, shortDigest(e.Digest.String()), e.Created.UTC().Format(time.RFC3339), logging.Bytes(e.Size))
			}
			return w.Flush()
		},
	}
}

func newInspectCmd(g *globals) *cobra.Command {
	var f inspectFlags
	cmd := &cobra.Command{
		Use:   "inspect IMAGE",
		Short: "Show an app image's buildpacks, processes, run image and layers",
		Example: `  slipway inspect myapp
  slipway inspect myapp --output json
  slipway inspect 127.0.0.1:5000/myapp --remote --insecure-registry 127.0.0.1:5000`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			img, err := f.read(cmd.Context(), g, args[0])
			if err != nil {
				return err
			}
			info, err := inspect.Read(img)
			if err != nil {
				return fmt.Errorf("inspect %s: %w", args[0], err)
			}
			info.Name = args[0]
			if f.output == "json" {
				return writeJSON(g.stdout, info)
			}
			printInfo(g, info)
			return nil
		},
	}
	f.register(cmd, "image")
	return cmd
}

// inspectFlags are what `inspect` and `builder inspect` share: where to read the image from
// and how to print it.
type inspectFlags struct {
	output   string
	remote   bool
	insecure []string
}

func (f *inspectFlags) register(cmd *cobra.Command, what string) {
	cmd.Flags().StringVarP(&f.output, "output", "o", "human", "output format: human or json")
	cmd.Flags().BoolVar(&f.remote, "remote", false, "read the "+what+" from its registry instead of the local store")
	addInsecureRegistryFlag(cmd.Flags(), &f.insecure)
}

// read checks --output and reads ref from the local store, or with --remote from its registry.
func (f *inspectFlags) read(ctx context.Context, g *globals, ref string) (v1.Image, error) {
	if f.output != "human" && f.output != "json" {
		return nil, fmt.Errorf("--output %q: want human or json", f.output)
	}
	return g.readImage(ctx, ref, f.remote, f.insecure)
}

// readImage reads ref from the local store, or with remote from its registry.
func (g *globals) readImage(ctx context.Context, ref string, remote bool, insecure []string) (v1.Image, error) {
	if remote {
		ro, err := registryOptions(insecure)
		if err != nil {
			return nil, err
		}
		return registry.Image(ctx, ref, ro)
	}
	s, err := g.store()
	if err != nil {
		return nil, err
	}
	img, err := s.Image(ref)
	if err != nil {
		return nil, fmt.Errorf("%w (add --remote to read it from its registry)", err)
	}
	return img, nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printInfo(g *globals, info *inspect.Info) {
	out := g.stdout
	fmt.Fprintf(out, "Image:   %s\nDigest:  %s\nCreated: %s\n\n", info.Name, info.Digest, info.Created)
	fmt.Fprintf(out, "Run image:\n  %s\n  reference: %s\n", info.RunImage.Image, info.RunImage.Reference)
	for _, m := range info.RunImage.Mirrors {
		fmt.Fprintf(out, "  mirror: %s\n", m)
	}
	fmt.Fprintln(out, "\nBuildpacks:")
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "  ID\tVERSION\tHOMEPAGE")
	for _, b := range info.Buildpacks {
		fmt.Fprintf(w, "  %s\t%s\t%s\n", b.ID, b.Version, b.Homepage)
	}
	w.Flush()
	fmt.Fprintln(out, "\nProcesses:")
	w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "  TYPE\tCOMMAND\tARGS\tWORK DIR")
	for _, p := range info.Processes {
		t := p.Type
		if p.Default {
			t += " (default)"
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\n", t, strings.Join(p.Command, " "), strings.Join(p.Args, " "), p.WorkingDir)
	}
	w.Flush()
	fmt.Fprintln(out, "\nLayers:")
	w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "  DIFF ID\tSIZE\tCREATED BY")
	for _, l := range info.Layers {
		fmt.Fprintf(w, "  %s\t%s\t%s\n", shortDigest(l.DiffID), logging.Bytes(l.Size), l.CreatedBy)
	}
	w.Flush()
}

func newSaveCmd(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "save IMAGE... -o FILE",
		Short: "Write images from the local store to a docker-archive tarball",
		Long:  "Writes a docker-archive tarball that `podman load -i FILE` and `docker load -i FILE` read.",
		Example: `  slipway save myapp -o myapp.tar
  podman load -i myapp.tar && podman run --rm localhost/myapp`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output == "" {
				return fmt.Errorf("no output file: pass -o FILE")
			}
			s, err := g.store()
			if err != nil {
				return err
			}
			abs, _ := filepath.Abs(output)
			if err := atomicfile.WriteFrom(abs, 0o644, func(w io.Writer) error { return s.Save(cmd.Context(), args, w) }); err != nil {
				return fmt.Errorf("save to %s: %w", output, err)
			}
			fmt.Fprintf(g.stdout, "Saved %s to %s\n", strings.Join(args, ", "), output)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "tarball to write")
	return cmd
}

func newRmiCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "rmi IMAGE...",
		Short:   "Remove images from the local store",
		Example: "  slipway rmi myapp",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.store()
			if err != nil {
				return err
			}
			for _, a := range args {
				if err := s.Remove(cmd.Context(), a); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "Untagged %s\n", a)
			}
			return nil
		},
	}
}

func shortDigest(d string) string {
	if i := strings.IndexByte(d, ':'); i >= 0 && len(d) > i+13 {
		return d[:i+13]
	}
	return d
}
