package cli

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/slipway/slipway/version"

	"github.com/spf13/cobra"

	"github.com/slipway/slipway/api"
)

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print slipway's version and the CNB APIs it speaks",
		Example: "  slipway version",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(g.stdout, "slipway %s (%s, %s/%s)\n", version.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			fmt.Fprintf(g.stdout, "Buildpack APIs: %s\n", strings.Join(api.SupportedBuildpackAPIs(), ", "))
			fmt.Fprintf(g.stdout, "Platform APIs:  %s\n", strings.Join(api.SupportedPlatformAPIs(), ", "))
			return nil
		},
	}
}
