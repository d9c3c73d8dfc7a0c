package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/slipway/slipway/tomlfile"
	"github.com/slipway/slipway/version"

	"github.com/spf13/cobra"

	"github.com/slipway/slipway/cacerts"
	"github.com/slipway/slipway/imagestore"
	"github.com/slipway/slipway/internal/bootstrap"
	"github.com/slipway/slipway/internal/defaultbuilder"
)

// settings is slipway's user configuration, $XDG_CONFIG_HOME/slipway/config.toml.
type settings struct {
	// DefaultBuilder is used by `slipway build` without --builder (pack's default-builder).
	DefaultBuilder string `toml:"default-builder,omitempty"`
	// CACertificates are PEM files of extra CAs every build sandbox trusts (absolute paths),
	// before any --ca-certificates of the build (docs/platform-flags.md).
	CACertificates []string `toml:"ca-certificates,omitempty"`
}

func configPath() string {
	if p := os.Getenv("SLIPWAY_CONFIG"); p != "" {
		return p
	}
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "slipway", "config.toml")
}

func readSettings() (*settings, error) {
	var s settings
	p := configPath()
	if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
		return &s, nil
	}
	if err := tomlfile.Read(p, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

func writeSettings(s *settings) error {
	p := configPath()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	return tomlfile.Write(p, s)
}

func newConfigCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "config",
		Short:   "Show or change slipway's settings",
		Example: "  slipway config default-builder registry.example.com/builders/node:1\n  slipway config default-builder --unset",
	}
	var unset bool
	db := &cobra.Command{
		Use:   "default-builder [REF]",
		Short: "Show or set the builder `slipway build` uses without --builder",
		Long: `With no argument, prints the default builder. With REF (a builder image in the local store or a
registry, or a builder.toml path), sets it. --unset returns to slipway's built-in default builder.`,
		Example: "  slipway config default-builder ./builder.toml\n  slipway config default-builder",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := readSettings()
			if err != nil {
				return err
			}
			switch {
			case unset:
				s.DefaultBuilder = ""
			case len(args) == 1:
				s.DefaultBuilder = args[0]
			default:
				if s.DefaultBuilder == "" {
					fmt.Fprintln(g.stdout, "built-in (slipway's Node.js, Go, Python, Aptfile and Procfile buildpacks on Debian 12)")
				} else {
					fmt.Fprintln(g.stdout, s.DefaultBuilder)
				}
				return nil
			}
			if err := writeSettings(s); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "Default builder set in %s\n", configPath())
			return nil
		},
	}
	db.Flags().BoolVar(&unset, "unset", false, "go back to the built-in default builder")
	cmd.AddCommand(db, newConfigCACmd(g))
	return cmd
}

func newConfigCACmd(g *globals) *cobra.Command {
	var unset bool
	cmd := &cobra.Command{
		Use:   "ca-certificates [FILE...]",
		Short: "Show or set the extra CAs every build trusts (TLS-inspecting proxies, private registries)",
		Long: `With no argument, prints the PEM files every build's sandbox trusts in addition to the build
image's CA bundle. With FILEs, replaces the list (each must hold PEM CA certificates; they are read
at every build, so keep them in place). --unset clears it. A build adds its own with
--ca-certificates. The build image is not changed: the combined bundle is bound over its bundle
during detect and build only, so the app image is the same as without.`,
		Example: "  slipway config ca-certificates /usr/local/share/ca-certificates/corp-proxy.crt\n  slipway config ca-certificates --unset",
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := readSettings()
			if err != nil {
				return err
			}
			switch {
			case unset:
				s.CACertificates = nil
			case len(args) > 0:
				var abs []string
				for _, a := range args {
					p, err := filepath.Abs(a)
					if err != nil {
						return err
					}
					abs = append(abs, p)
				}
				if _, err := cacerts.Read(abs); err != nil {
					return err
				}
				s.CACertificates = abs
			default:
				for _, c := range s.CACertificates {
					fmt.Fprintln(g.stdout, c)
				}
				return nil
			}
			if err := writeSettings(s); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "CA certificates (%d) set in %s\n", len(s.CACertificates), configPath())
			return nil
		},
	}
	cmd.Flags().BoolVar(&unset, "unset", false, "trust only the build image's CA bundle again")
	return cmd
}

// defaultBuilder is the builder `slipway build` uses when none is named: the one set with
// `slipway config default-builder`, else the built-in one, made on first use.
func defaultBuilder(ctx context.Context, g *globals, store *imagestore.Store, workDir, lifecycleBinary, launcher string) (string, error) {
	s, err := readSettings()
	if err != nil {
		return "", err
	}
	if s.DefaultBuilder != "" {
		return s.DefaultBuilder, nil
	}
	var bps fs.FS
	if !defaultbuilder.Available() {
		// A slipway from plain `go install`: build the buildpacks from its own source once.
		if bps, err = bootstrap.Buildpacks(ctx, bootstrap.Options{CacheDir: workDir, Logf: g.logger().Infof}); err != nil {
			return "", fmt.Errorf("no default builder: %w; or pass --builder", err)
		}
	}
	return defaultbuilder.Ensure(ctx, defaultbuilder.Options{Buildpacks: bps,
		Store: store, WorkDir: workDir, LifecycleBinary: lifecycleBinary, LauncherPath: launcher,
		Phases: phaseNames(), Version: version.Version, Log: g.logger(),
	})
}
