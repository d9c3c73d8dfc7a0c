package sandbox

import (
	"io/fs"
	"os"
	"testing"

	"github.com/slipway/slipway/internal/e2ekit"
)

// asEachUser runs test twice, each time with its own env: slipway run by root, and slipway
// run rootless by an unprivileged user (issue "The sandbox must hold": every attack fails
// under root and as non-root).
func asEachUser(t *testing.T, test func(t *testing.T, e *e2ekit.Env)) {
	t.Run("root", func(t *testing.T) { test(t, e2ekit.NewEnv(t)) })
	t.Run("rootless", func(t *testing.T) {
		e := e2ekit.NewEnv(t).AsUser(e2ekit.Unprivileged, e2ekit.Unprivileged)
		setTunMode(t, 0o666) // the private network's slirp4netns runs as that user
		test(t, e)
	})
}

// tunDevice is the device a rootless private network needs; some hosts make it root-only.
const tunDevice = "/dev/net/tun"

// setTunMode sets tunDevice's permissions until the test ends.
func setTunMode(t *testing.T, mode fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(tunDevice)
	if err != nil {
		t.Skipf("no %s: %v", tunDevice, err)
	}
	if err := os.Chmod(tunDevice, mode); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(tunDevice, fi.Mode().Perm()) })
}
