// Command slipway builds OCI images from source with Cloud Native Buildpacks, without a
// daemon. Invoked as /cnb/lifecycle/<phase> it is the CNB lifecycle phase of that name.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/slipway/slipway/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
