package cli

import (
	"flag"
	"os"
	"strings"

	"github.com/spf13/pflag"
)

// The flag groups several commands share, declared once.

const insecureRegistryUsage = "registry (host:port) to reach over plain HTTP (repeatable)"

// addInsecureRegistryFlag adds --insecure-registry to a command that talks to registries.
func addInsecureRegistryFlag(f *pflag.FlagSet, insecure *[]string) {
	f.StringArrayVar(insecure, "insecure-registry", nil, insecureRegistryUsage)
}

// insecureList is -insecure-registry of the lifecycle phases: repeatable, and
// CNB_INSECURE_REGISTRIES (comma-separated) when the flag is not given (platform.md, analyzer).
type insecureList struct {
	list []string
	set  bool
}

func (l *insecureList) String() string { return strings.Join(l.list, ",") }

func (l *insecureList) Set(v string) error {
	if !l.set {
		l.list, l.set = nil, true
	}
	for _, r := range strings.Split(v, ",") {
		if r = strings.TrimSpace(r); r != "" {
			l.list = append(l.list, r)
		}
	}
	return nil
}

// addPhaseInsecureRegistryFlag adds -insecure-registry to a lifecycle phase.
func addPhaseInsecureRegistryFlag(fs *flag.FlagSet, l *insecureList) {
	if env := os.Getenv("CNB_INSECURE_REGISTRIES"); env != "" {
		l.Set(env)
		l.set = false
	}
	fs.Var(l, "insecure-registry", insecureRegistryUsage+"; default CNB_INSECURE_REGISTRIES (comma-separated)")
}
