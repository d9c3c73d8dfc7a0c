package stack

import (
	"slices"
	"testing"
)

// The default run image carries the shared libraries common runtimes need at launch:
// Node.js ≥ 25 links libatomic.so.1, which the build image has through build-essential.
func TestDefaultRunImageLibraries(t *testing.T) {
	d, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"libc6", "libstdc++6", "libgcc-s1", "libatomic1", "zlib1g", "libssl3"} {
		if !slices.Contains(d.Run.Packages, p) {
			t.Errorf("default run image lacks %s", p)
		}
	}
}
