// Command apt is the Slipway Apt buildpack; bin/detect and bin/build link to it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/slipway/slipway/buildpacks/apt"
	"github.com/slipway/slipway/buildpacks/sdk"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := sdk.Main(ctx, os.Args, os.Environ(), os.Stdout, apt.Detect, apt.Build)
	stop()
	os.Exit(code)
}
