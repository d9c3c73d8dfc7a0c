// Command procfile is the Slipway Procfile buildpack; bin/detect and bin/build link to it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/slipway/slipway/buildpacks/procfile"
	"github.com/slipway/slipway/buildpacks/sdk"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := sdk.Main(ctx, os.Args, os.Environ(), os.Stdout, procfile.Detect, procfile.Build)
	stop()
	os.Exit(code)
}
