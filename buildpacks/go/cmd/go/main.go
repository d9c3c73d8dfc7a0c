// Command go is the Slipway Go buildpack; bin/detect and bin/build link to it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	golang "github.com/slipway/slipway/buildpacks/go"
	"github.com/slipway/slipway/buildpacks/sdk"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := sdk.Main(ctx, os.Args, os.Environ(), os.Stdout, golang.Detect, golang.Build)
	stop()
	os.Exit(code)
}
