// Command nodejs is the Slipway Node.js buildpack; bin/detect and bin/build link to it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/slipway/slipway/buildpacks/nodejs"
	"github.com/slipway/slipway/buildpacks/sdk"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := sdk.Main(ctx, os.Args, os.Environ(), os.Stdout, nodejs.Detect, nodejs.Build)
	stop()
	os.Exit(code)
}
