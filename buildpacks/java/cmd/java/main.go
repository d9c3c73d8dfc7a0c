// Command java is the Slipway Java buildpack; bin/detect and bin/build link to it, and
// the copy the build puts into the JRE layer's exec.d runs as the memory calculator.
package main

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/slipway/slipway/buildpacks/java"
	"github.com/slipway/slipway/buildpacks/sdk"
)

func main() {
	if filepath.Base(os.Args[0]) == java.MemoryCalculatorName {
		os.Exit(java.MemoryCalculatorMain(os.Environ(), os.Stdout, os.Stderr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := sdk.Main(ctx, os.Args, os.Environ(), os.Stdout, java.Detect, java.Build)
	stop()
	os.Exit(code)
}
