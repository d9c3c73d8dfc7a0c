package sandbox_test

import (
	"os/exec"
	"testing"

	"github.com/slipway/slipway/sandbox"
)

// BenchmarkStartup is the cost of one sandboxed process (`true`) per network: what each
// phase pays for the private network (slirp4netns up before the process starts) against
// the host's. Run: go test -run '^$' -bench Startup -benchtime 30x ./sandbox/
func BenchmarkStartup(b *testing.B) {
	bwrap, err := exec.LookPath("bwrap")
	if err != nil {
		b.Skip("bubblewrap is not installed")
	}
	rootfs := buildRootfs(b)
	for _, n := range []sandbox.Network{sandbox.NetworkHost, sandbox.NetworkPrivate} {
		b.Run(string(n), func(b *testing.B) {
			ex := &sandbox.Bwrap{Path: bwrap}
			for b.Loop() {
				if err := ex.Run(b.Context(), sandbox.Spec{Rootfs: rootfs, Args: []string{"true"},
					Env: []string{"PATH=" + sandboxPath}, UID: 1000, GID: 1000, Network: n}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
