package phases

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/slipway/slipway/imagestore"
	"github.com/slipway/slipway/internal/e2ekit"
	"github.com/slipway/slipway/lifecycle"
)

// Held (issue "The sandbox must hold"): kill -9 during a rebase leaves the app image either
// as it was or fully rebased — a valid image whose every blob is in the store, never a
// half-written one. The run image name alternates between the original and a patched base
// so every attempt has work to do; the kills land at moments spread over a rebase's length.
func TestKillDuringRebase(t *testing.T) {
	e := e2ekit.NewEnv(t)
	e.MustSlipway("build", "myapp", "--path", e2ekit.App("hello"), "--builder", e.Builder)
	s, err := imagestore.Open(e.Store)
	if err != nil {
		t.Fatal(err)
	}
	orig, err := s.Image(e2ekit.RunImageName)
	if err != nil {
		t.Fatal(err)
	}
	patched := patchRunImage(t, s, e2ekit.RunImageName)
	bases := map[string]v1.Image{digestString(t, orig): orig, digestString(t, patched): patched}

	// How long one rebase takes here, to spread the kills over it.
	start := time.Now()
	e.MustSlipway("rebase", "myapp")
	full := time.Since(start)
	t.Logf("one rebase takes %s", full)

	const attempts = 12
	var killedMidway int
	for i := 0; i < attempts; i++ {
		app := runImageDigest(t, s)
		for d, img := range bases { // point the run image name at the base the app is not on
			if d != app {
				if _, err := s.Write(context.Background(), e2ekit.RunImageName, img); err != nil {
					t.Fatal(err)
				}
			}
		}
		cmd := exec.Command(e2ekit.SlipwayBin, "rebase", "myapp")
		cmd.Env = append(os.Environ(), "SLIPWAY_STORE="+e.Store, "XDG_CACHE_HOME="+e.Work)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(full * time.Duration(i) / attempts)
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == -1 {
			killedMidway++
		}
		s, err = imagestore.Open(e.Store)
		if err != nil {
			t.Fatalf("attempt %d: the store does not open after kill -9: %v", i, err)
		}
		img, err := s.Image("myapp")
		if err != nil {
			t.Fatalf("attempt %d: myapp is gone after kill -9: %v", i, err)
		}
		if err := validate.Image(img); err != nil {
			t.Fatalf("attempt %d: myapp is not a valid image after kill -9: %v", i, err)
		}
		if d := runImageDigest(t, s); bases[d] == nil {
			t.Fatalf("attempt %d: myapp's run image %s is neither base", i, d)
		}
	}
	t.Logf("%d of %d rebases were killed before they finished", killedMidway, attempts)
	if killedMidway == 0 {
		t.Fatal("no kill landed during a rebase; the test proved nothing")
	}
	// And the store still works: a last rebase completes.
	if out := e.MustSlipway("rebase", "myapp"); !strings.Contains(out, "myapp") {
		t.Errorf("final rebase printed %q", out)
	}
}

// runImageDigest is the digest of the run image myapp is based on, from its lifecycle metadata.
func runImageDigest(t *testing.T, s *imagestore.Store) string {
	t.Helper()
	img, err := s.Image("myapp")
	if err != nil {
		t.Fatal(err)
	}
	meta, err := lifecycle.ReadLayersMetadata(img)
	if err != nil {
		t.Fatal(err)
	}
	_, d, _ := strings.Cut(meta.RunImage.Reference, "@")
	return d
}

func digestString(t *testing.T, img v1.Image) string {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}
