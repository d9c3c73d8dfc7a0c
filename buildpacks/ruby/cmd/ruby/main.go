// Command ruby is the Slipway Ruby buildpack; bin/detect and bin/build link to it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/slipway/slipway/buildpacks/ruby"
	"github.com/slipway/slipway/buildpacks/sdk"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := sdk.Main(ctx, os.Args, os.Environ(), os.Stdout, ruby.Detect, ruby.Build)
	stop()
	os.Exit(code)
}
