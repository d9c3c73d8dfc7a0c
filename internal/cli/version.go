package cli

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/slipway/slipway/api"
	"github.com/slipway/slipway/build"
)

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print slipway's version and the CNB APIs it speaks",
		Example: "  slipway version",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(g.stdout, "slipway %s (%s, %s/%s)\n", build.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			fmt.Fprintf(g.stdout, "Buildpack APIs: %s\n", strings.Join(api.SupportedBuildpackAPIs(), ", "))
			fmt.Fprintf(g.stdout, "Platform APIs:  %s\n", strings.Join(api.SupportedPlatformAPIs(), ", "))
			return nil
		},
	}
}
