// Package cli is slipway's command line: one file per command; each parses flags, calls
// one library function and prints the result.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/slipway/slipway/imagestore"
	"github.com/slipway/slipway/logging"
	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/registry"
)

// globals are the flags every command shares.
type globals struct {
	verbose    bool
	quiet      bool
	timestamps bool
	storeDir   string
	stdout     io.Writer
	stderr     io.Writer
}

func (g *globals) logger() *logging.Logger {
	level := logging.Info
	switch {
	case g.verbose:
		level = logging.Debug
	case g.quiet:
		level = logging.Quiet
	}
	return logging.New(g.stdout, level, g.timestamps)
}

func (g *globals) store() (*imagestore.Store, error) {
	s, err := imagestore.Open(g.storeDir)
	if err != nil {
		return nil, fmt.Errorf("open local image store %s: %w (set --store or SLIPWAY_STORE)", g.storeDir, err)
	}
	return s, nil
}

// Main runs slipway with args (args[0] is the program name) and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// platform.md, Platform API Compatibility: the phase may be chosen by argv0 (/cnb/lifecycle/<phase>).
	if phase := filepath.Base(args[0]); isPhase(phase) {
		return runPhase(ctx, phase, args[1:], stdout, stderr)
	}
	g := &globals{stdout: stdout, stderr: stderr}
	root := newRoot(g)
	root.SetArgs(args[1:])
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var pe *phaseExit
	if errors.As(err, &pe) {
		return pe.code
	}
	fmt.Fprintln(stderr, "error:", err)
	if ctx.Err() != nil {
		return 130
	}
	return platform.ExitCode(err)
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "slipway",
		Short: "Build OCI images from source with Cloud Native Buildpacks, no daemon needed",
		Example: `  slipway build myapp --path ./app --builder ./builder.toml
  slipway images
  slipway inspect myapp`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.BoolVarP(&g.verbose, "verbose", "v", false, "show debug output (per-step detail, detect output of every buildpack)")
	pf.BoolVarP(&g.quiet, "quiet", "q", false, "show only warnings and errors")
	pf.BoolVar(&g.timestamps, "timestamps", false, "prefix every line with the time")
	pf.StringVar(&g.storeDir, "store", defaultStoreDir(), "local image store (an OCI image layout); env SLIPWAY_STORE")
	root.MarkFlagsMutuallyExclusive("verbose", "quiet")
	root.AddCommand(newBuildCmd(g), newImagesCmd(g), newInspectCmd(g), newSaveCmd(g), newRmiCmd(g),
		newVersionCmd(g), newLifecycleCmd(g), newRebaseCmd(g), newStackCmd(g),
		newBuilderCmd(g), newBuildpackCmd(g), newConfigCmd(g))
	return root
}

// registryOptions gives registry access with CNB_REGISTRY_AUTH, then the docker/podman
// auth files and credential helpers (platform.md, Registry Authentication).
func registryOptions(insecure []string) (registry.Options, error) {
	kc, err := registry.Keychain(os.Environ())
	if err != nil {
		return registry.Options{}, err
	}
	return registry.Options{Insecure: insecure, Keychain: kc}, nil
}

func dataHome() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".local", "share")
}

func cacheHome() string {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache")
}

func defaultStoreDir() string {
	if d := os.Getenv("SLIPWAY_STORE"); d != "" {
		return d
	}
	return filepath.Join(dataHome(), "slipway", "store")
}
