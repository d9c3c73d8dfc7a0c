package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/slipway/slipway/pipeline"
	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/publish"
	"github.com/slipway/slipway/sandbox"
)

func newBuildCmd(g *globals) *cobra.Command {
	var (
		o          pipeline.Options
		insecure   []string
		sandboxArg string
		networkArg string
		workDir    string
		caFiles    []string
	)
	cmd := &cobra.Command{
		Use:   "build IMAGE",
		Short: "Build an image from source with buildpacks",
		Long: `Detects which buildpacks apply to the app, runs them in a sandbox made from the builder's build
image, and exports an OCI image based on the run image. The image is written to the local store,
pushed to its registry with --publish, or loaded into Docker or podman with --daemon.`,
		Example: `  slipway build myapp --path ./app --builder ./builder.toml
  slipway build 127.0.0.1:5000/myapp --path ./app --builder ./builder.toml --publish --insecure-registry 127.0.0.1:5000
  DOCKER_HOST=unix:///run/user/1000/podman/podman.sock slipway build localhost/myapp --path ./app --daemon
  slipway build myapp --path ./app --builder ./builder.toml --buildpack ./my-buildpack --env NODE_ENV=production`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Image = args[0]
			exec, err := sandbox.New(sandboxArg)
			if err != nil {
				return fmt.Errorf("--sandbox %s: %w", sandboxArg, err)
			}
			o.Executor = exec
			if o.Network, err = sandbox.ParseNetwork(networkArg); err != nil {
				return fmt.Errorf("--network %s: %w", networkArg, err)
			}
			if o.Store, err = g.store(); err != nil {
				return err
			}
			if o.Registry, err = registryOptions(insecure); err != nil {
				return err
			}
			o.WorkDir = workDir
			o.DockerHost = publish.DaemonHost(os.Environ())
			o.Log = g.logger()
			if o.LifecycleBinary, err = os.Executable(); err != nil {
				return fmt.Errorf("find the slipway binary: %w", err)
			}
			if o.LauncherPath, err = launcherPath(cmd.Context(), g, o.WorkDir); err != nil {
				return err
			}
			if o.SourceDateEpoch, err = platform.SourceDateEpoch(os.Environ()); err != nil {
				return err
			}
			// --env KEY takes KEY's value from the current environment, like pack.
			for i, kv := range o.Env {
				if !strings.Contains(kv, "=") {
					v, ok := os.LookupEnv(kv)
					if !ok {
						return fmt.Errorf("--env %s: %s is not set in the current environment; use --env %s=VALUE", kv, kv, kv)
					}
					o.Env[i] = kv + "=" + v
				}
			}
			// A test seam: SLIPWAY_TEST_CRASH_AT=<point> kills the build at that named point
			// the way kill -9 would (exit 137, no cleanup), to prove crash safety.
			if point := os.Getenv("SLIPWAY_TEST_CRASH_AT"); point != "" {
				o.Hook = func(p string) {
					if p == point {
						fmt.Fprintf(g.stderr, "SLIPWAY_TEST_CRASH_AT: crashing at %s\n", p)
						os.Exit(137)
					}
				}
			}
			// The CAs of `slipway config ca-certificates` come first, then --ca-certificates.
			st, err := readSettings()
			if err != nil {
				return err
			}
			o.CACertificates = append(append([]string{}, st.CACertificates...), caFiles...)
			o.DefaultBuilder = func(ctx context.Context) (string, error) {
				return defaultBuilder(ctx, g, o.Store, o.WorkDir, o.LifecycleBinary, o.LauncherPath)
			}
			start := time.Now()
			res, err := pipeline.Build(cmd.Context(), o)
			if err != nil {
				return err
			}
			for _, n := range res.Names {
				fmt.Fprintf(g.stdout, "Successfully built image %s (%s) in %s\n", n, res.Digest, time.Since(start).Round(time.Millisecond))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.AppDir, "path", "p", ".", "app source directory")
	f.StringVarP(&o.Builder, "builder", "B", "", "builder: a builder.toml (pack format) or a builder image (default: project.toml's, else `slipway config default-builder`, else the built-in one)")
	f.StringArrayVarP(&o.Buildpacks, "buildpack", "b", nil, "buildpack to use instead of the builder's order: a directory, .tgz, .zip, .cnb, an https:// archive, a git URL (#ref), docker://IMAGE (buildpackage) or id@version; Heroku and Cloud Foundry buildpacks too (repeatable; forms one group, in order)")
	f.StringVar(&o.RunImage, "run-image", "", "run image to base the app image on (overrides the builder's)")
	f.StringVarP(&o.Descriptor, "descriptor", "d", "", "project.toml (default <path>/project.toml)")
	f.StringArrayVarP(&o.Env, "env", "e", nil, "build-time environment variable KEY=VALUE, or KEY to take it from the current environment (repeatable)")
	f.StringVarP(&o.DefaultProcess, "default-process", "D", "", "process type the image runs by default")
	f.BoolVar(&o.Publish, "publish", false, "push the image to its registry instead of the local store")
	f.BoolVar(&o.Daemon, "daemon", false, "load the image into the Docker daemon at DOCKER_HOST (Docker, or podman's Docker-compatible service) instead of the local store")
	f.StringArrayVarP(&o.Tags, "tag", "t", nil, "additional name for the image (repeatable)")
	f.StringVar(&o.PreviousImage, "previous-image", "", "image whose layers this build may reuse (default: IMAGE)")
	f.StringVar(&o.CacheDir, "cache-dir", "", "volume build cache directory (default: a per-image cache in --work-dir)")
	f.StringVar(&o.CacheImage, "cache-image", "", "registry image holding the build cache (instead of a volume cache)")
	f.BoolVar(&o.ClearCache, "clear-cache", false, "do not restore cached layers (the new cache is still written)")
	f.StringVar(&o.ReportDir, "report-output-dir", "", "directory to write report.toml to (image tags, digest)")
	f.StringArrayVar(&o.Volumes, "volume", nil, "mount a host file or dir into the build sandbox, HOST:CONTAINER[:ro|rw] (read-only by default, like pack; not under /cnb, /layers, /workspace or /platform except /platform/bindings/NAME) (repeatable)")
	f.StringArrayVar(&o.Bindings, "binding", nil, "service binding NAME=DIR: DIR (a `type` file and one file per entry) is provided read-only at /platform/bindings/NAME, SERVICE_BINDING_ROOT is set; never part of the image (repeatable)")
	f.StringArrayVar(&caFiles, "ca-certificates", nil, "PEM file of an extra CA the build trusts, e.g. a TLS-inspecting proxy's (added to the build image's CA bundle for this build only; also `slipway config ca-certificates`) (repeatable)")
	addInsecureRegistryFlag(f, &insecure)
	f.StringVar(&sandboxArg, "sandbox", "auto", "where buildpacks run: bwrap (bubblewrap sandbox from the build image), host (host filesystem, private mount namespace), auto")
	f.StringVar(&networkArg, "network", string(sandbox.NetworkPrivate), "network buildpacks see: private (internet through user-mode NAT, not the host's 127.0.0.1 services) or host (the host's network)")
	f.StringVar(&workDir, "work-dir", filepath.Join(cacheHome(), "slipway"), "directory for build workspaces and unpacked build images")
	return cmd
}
