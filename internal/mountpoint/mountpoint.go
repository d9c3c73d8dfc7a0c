// Package mountpoint finds and detaches the mounts a test left under a directory (a
// debootstrap's /proc, a podman overlay), so the directory can be removed.
package mountpoint

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"syscall"
)

// DetachUnder lazily unmounts every mount at or below dir, deepest first.
func DetachUnder(dir string) error {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return fmt.Errorf("list mounts under %s: %w", dir, err)
	}
	var points []string
	for _, line := range strings.Split(string(b), "\n") {
		// mountinfo: ID parentID major:minor root mountpoint options ...
		if f := strings.Fields(line); len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			points = append(points, f[4])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(points)))
	for _, p := range points {
		if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount %s: %w", p, err)
		}
	}
	return nil
}
