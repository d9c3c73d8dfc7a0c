// Command launcher is the entrypoint of images built by slipway (platform.md, launcher): it
// selects a process, assembles its environment and execs it. It imports only the
// standard library, package launch and the TOML decoder so it stays small and static
// (main_test.go guards this).
package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/BurntSushi/toml"

	"github.com/slipway/slipway/launch"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, stop)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "ERROR: launcher: %v\n", err)
		os.Exit(launch.ExitCode(err))
	}
}

func run(ctx context.Context, stop func()) error {
	layersDir := envOr("CNB_LAYERS_DIR", "/layers")
	supervise, err := launch.WantInit(os.Environ(), os.Getpid())
	if err != nil {
		return &launch.ExitError{Code: launch.CodeLaunchError, Err: err}
	}
	l := &launch.Launcher{
		AppDir:      envOr("CNB_APP_DIR", "/workspace"),
		LayersDir:   layersDir,
		ExecEnv:     envOr("CNB_EXEC_ENV", "production"),
		PlatformAPI: os.Getenv("CNB_PLATFORM_API"),
		Env:         os.Environ(),
		Exec:        syscall.Exec,
		Chdir:       os.Chdir,
		Stdout:      os.Stdout,
		Stderr:      os.Stderr,
	}
	// platform.md, launcher: <layers>/config/metadata.toml describes buildpacks and processes.
	path := filepath.Join(layersDir, "config", "metadata.toml")
	if _, err := toml.DecodeFile(path, &l.Metadata); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = fmt.Errorf("%w (is CNB_LAYERS_DIR=%s right?)", err, layersDir)
		}
		return &launch.ExitError{Code: launch.CodeLaunchError, Err: fmt.Errorf("read metadata %s: %w", path, err)}
	}
	if supervise {
		// As PID 1 the process would ignore SIGTERM without a handler and leave orphans as
		// zombies: run it as a child instead (launch/init.go).
		l.Exec = func(path string, argv, env []string) error {
			stop()
			code, err := launch.Supervise(path, argv, env)
			if err != nil {
				return err
			}
			os.Exit(code)
			return nil
		}
	}
	return l.Launch(ctx, os.Args[0], os.Args[1:])
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
