// Command webserver is the Slipway web-server buildpack; bin/detect and bin/build link to it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/slipway/slipway/buildpacks/sdk"
	"github.com/slipway/slipway/buildpacks/webserver"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := sdk.Main(ctx, os.Args, os.Environ(), os.Stdout, webserver.Detect, webserver.Build)
	stop()
	os.Exit(code)
}
