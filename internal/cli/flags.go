package cli

import (
	"github.com/spf13/pflag"
)

// The flag groups several commands share, declared once. The lifecycle phases' flags are
// the Platform API's, declared in the platform package (platform.ParseInputs).

const insecureRegistryUsage = "registry (host:port) to reach over plain HTTP (repeatable)"

// addInsecureRegistryFlag adds --insecure-registry to a command that talks to registries.
func addInsecureRegistryFlag(f *pflag.FlagSet, insecure *[]string) {
	f.StringArrayVar(insecure, "insecure-registry", nil, insecureRegistryUsage)
}
