package build

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/slipway/slipway/imagestore"
	"github.com/slipway/slipway/internal/e2ekit"
)

func layersBP() string {
	return filepath.Join(e2ekit.RepoRoot, "e2e", "testdata", "buildpacks", "layers")
}

// docs/architecture.md, "Never do work twice": a no-change rebuild reuses every layer, says so per layer
// under -v, and gives the same digest; a one-file change alters only the app layer.
func TestRebuildReusesLayers(t *testing.T) {
	e := e2ekit.NewEnv(t)
	dir := e2ekit.CopyApp(t, "hello")
	e.MustSlipway("build", "reuse", "--path", dir, "--builder", e.Builder)
	s, _ := imagestore.Open(e.Store)
	before := e2ekit.DiffIDs(t, s, "reuse")
	d1 := e2ekit.DigestOf(t, s, "reuse")
	out := e.MustSlipway("-v", "build", "reuse", "--path", dir, "--builder", e.Builder)
	for _, l := range []string{"slice-1", "launcher", "config", "process-types"} {
		if !regexp.MustCompile(`layer ` + l + `: reused \(unchanged\)`).MatchString(out) {
			t.Errorf("layer %s not reported 'reused (unchanged)':\n%s", l, out)
		}
	}
	if d2 := e2ekit.DigestOf(t, s, "reuse"); d1 != d2 {
		t.Fatalf("no-change rebuild changed the digest: %s → %s", d1, d2)
	}

	e2ekit.WriteFile(t, filepath.Join(dir, "hello.txt"), "Changed")
	out = e.MustSlipway("-v", "build", "reuse", "--path", dir, "--builder", e.Builder)
	if !strings.Contains(out, "layer slice-1: rebuilt (contents changed)") {
		t.Errorf("app layer not reported rebuilt:\n%s", out)
	}
	after := e2ekit.DiffIDs(t, s, "reuse")
	if len(after) != len(before) {
		t.Fatalf("layer count %d → %d", len(before), len(after))
	}
	var changed []int
	for i := range before {
		if before[i] != after[i] {
			changed = append(changed, i)
		}
	}
	// Layers: run image…, greeter, app, launcher, config, process-types: the app layer is
	// the fourth from the top.
	if want := len(before) - 4; len(changed) != 1 || changed[0] != want {
		t.Fatalf("changed layers %v, want only the app layer [%d]", changed, want)
	}
}

// buildpack.md, Layer Types: every row of the restore table, from the materialised layers, from a
// portable --cache-dir (untarred), and with --clear-cache.
func TestRestoreTableRows(t *testing.T) {
	e := e2ekit.NewEnv(t)
	dir := e2ekit.CopyApp(t, "layers")
	cacheDir := filepath.Join(t.TempDir(), "cache")
	args := []string{"build", "rows", "--path", dir, "--builder", e.Builder, "--buildpack", layersBP(), "--cache-dir", cacheDir}
	e.MustSlipway(args...)
	const (
		all  = "toml=yes meta=yes content=yes"
		meta = "toml=yes meta=yes content=no"
		none = "toml=no meta=no content=no"
	)
	full := map[string]string{
		"l-TTT": all, "l-TTF": all, "l-TFT": none, "l-TFF": none,
		"l-FTT": all, "l-FTF": all, "l-FFT": meta, "l-FFF": none,
	}
	check := func(name, out string, want map[string]string) {
		t.Helper()
		got := e2ekit.Seen(out)
		for l, w := range want {
			if got[l] != w {
				t.Errorf("%s: %s restored as %q, want %q", name, l, got[l], w)
			}
		}
	}
	out := e.MustSlipway(args...)
	check("rebuild", out, full)
	if !strings.Contains(out, `seen store [metadata]  counter = "one"`) {
		t.Errorf("store.toml not restored (platform.md, Layer Restoration):\n%s", out)
	}
	// Another image name has no materialised layers: contents come from the cache tars.
	other := append([]string{"build", "rows-other"}, args[2:]...)
	other = append(other, "--previous-image", "rows")
	check("untarred from --cache-dir", e.MustSlipway(other...), full)
	cleared := map[string]string{"l-TTT": none, "l-FTF": none, "l-FFT": meta}
	check("--clear-cache", e.MustSlipway(append(args, "--clear-cache")...), cleared)
}

// buildpack.md, Launch Layers: a launch layer whose buildpack writes only the .toml is taken from the
// previous image with the same diffID.
func TestLaunchLayerReusedFromPreviousImage(t *testing.T) {
	e := e2ekit.NewEnv(t)
	dir := e2ekit.CopyApp(t, "layers")
	args := []string{"build", "keep", "--path", dir, "--builder", e.Builder, "--buildpack", layersBP()}
	e.MustSlipway(args...)
	s, _ := imagestore.Open(e.Store)
	before := e2ekit.DiffIDs(t, s, "keep")
	beforeSHA := e2ekit.BuildpackLayerSHA(e2ekit.LayerMetadata(t, e.Store, "keep"), "test/layers", "l-FFT")
	out := e.MustSlipway(append([]string{"-v"}, append(args, "--env", "REUSE_ONLY_TOML=1")...)...)
	if !strings.Contains(out, "layer test/layers:l-FFT: reused from the previous image") {
		t.Errorf("l-FFT not reused from the previous image:\n%s", out)
	}
	after := e2ekit.DiffIDs(t, s, "keep")
	if len(before) != len(after) {
		t.Fatalf("layer count changed %d → %d", len(before), len(after))
	}
	// The same diffID, recorded in the label and present in the image.
	afterSHA := e2ekit.BuildpackLayerSHA(e2ekit.LayerMetadata(t, e.Store, "keep"), "test/layers", "l-FFT")
	if afterSHA == "" || afterSHA != beforeSHA {
		t.Errorf("l-FFT diffID %q after reuse, want the previous image's %q", afterSHA, beforeSHA)
	}
	found := false
	for _, h := range after {
		found = found || h.String() == afterSHA
	}
	if !found {
		t.Errorf("l-FFT diffID %s is not a layer of the rebuilt image %v", afterSHA, after)
	}
}

// The trap of buildpack.md, Layer Content Metadata (TOML): a restored cache layer reused without [types] vanishes; say so.
func TestWarnRestoredLayerWithoutTypes(t *testing.T) {
	e := e2ekit.NewEnv(t)
	dir := e2ekit.CopyApp(t, "layers")
	args := []string{"build", "trap", "--path", dir, "--builder", e.Builder, "--buildpack", layersBP()}
	e.MustSlipway(args...)
	out := e.MustSlipway(append(args, "--env", "FORGET_TYPES=1")...)
	if !strings.Contains(out, `restored cache layer "l-TTT" but did not set [types]`) || !strings.Contains(out, "DROPPED") {
		t.Errorf("no loud warning:\n%s", out)
	}
}

// A kill -9 at each point of export and cache commit leaves the previous image and cache
// intact, and the next build succeeds (docs/spec-notes.md, Caches staging → committed).
func TestCrashDuringExportAndCacheCommit(t *testing.T) {
	for _, point := range []string{"export-before-write", "export-written", "cache-staged", "cache-swapping", "cache-swapped"} {
		t.Run(point, func(t *testing.T) {
			e := e2ekit.NewEnv(t)
			dir := e2ekit.CopyApp(t, "layers")
			cacheDir := filepath.Join(t.TempDir(), "cache")
			args := []string{"build", "crash", "--path", dir, "--builder", e.Builder, "--buildpack", layersBP(), "--cache-dir", cacheDir}
			e.MustSlipway(args...)
			s, _ := imagestore.Open(e.Store)
			before := e2ekit.DigestOf(t, s, "crash")
			e2ekit.WriteFile(t, filepath.Join(dir, "layers.txt"), "two")
			cmd := exec.Command(e2ekit.SlipwayBin, args...)
			cmd.Env = append(os.Environ(), "SLIPWAY_STORE="+e.Store, "XDG_CACHE_HOME="+e.Work, "SLIPWAY_TEST_CRASH_AT="+point)
			out, err := cmd.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 137 {
				t.Fatalf("crash build: %v\n%s", err, out)
			}
			s, _ = imagestore.Open(e.Store)
			now := e2ekit.DigestOf(t, s, "crash")
			if point == "export-before-write" && now != before {
				t.Fatalf("image changed before it was written: %s → %s", before, now)
			}
			e2ekit.DiffIDs(t, s, "crash") // still a valid image
			// The cache is the old or the new one, never neither: a new image name with the
			// same cache dir still gets every cache layer's contents.
			out2 := e.MustSlipway("build", "crash-next", "--path", dir, "--builder", e.Builder, "--buildpack", layersBP(), "--cache-dir", cacheDir)
			if got := e2ekit.Seen(out2)["l-TTT"]; got != "toml=yes meta=yes content=yes" {
				t.Fatalf("cache lost after crash at %s: l-TTT %q\n%s", point, got, out2)
			}
			e.MustSlipway(args...)
		})
	}
}

// platform.md, Layer Restoration: a cache entry whose digest does not match is discarded with a warning.
func TestCorruptCacheEntryDiscarded(t *testing.T) {
	e := e2ekit.NewEnv(t)
	dir := e2ekit.CopyApp(t, "layers")
	cacheDir := filepath.Join(t.TempDir(), "cache")
	e.MustSlipway("build", "corrupt", "--path", dir, "--builder", e.Builder, "--buildpack", layersBP(), "--cache-dir", cacheDir)
	tars, _ := filepath.Glob(filepath.Join(cacheDir, "committed", "sha256:*.tar"))
	if len(tars) == 0 {
		t.Fatal("no cache tars committed")
	}
	for _, p := range tars {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		copy(b[len(b)-2048:], "corrupted!")
		os.Remove(p) // committed tars may be hard links; never write through them
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := e.MustSlipway("build", "corrupt-2", "--path", dir, "--builder", e.Builder, "--buildpack", layersBP(), "--cache-dir", cacheDir)
	if !strings.Contains(out, "is unusable and was discarded") {
		t.Errorf("no discard warning:\n%s", out)
	}
	if got := e2ekit.Seen(out)["l-TTT"]; got != "toml=no meta=no content=no" {
		t.Errorf("corrupt layer half-restored: %q", got)
	}
}

// Two builds of the same app at once: one waits for the other; store and cache stay valid.
func TestConcurrentBuildsOfSameApp(t *testing.T) {
	e := e2ekit.NewEnv(t)
	dir := e2ekit.CopyApp(t, "layers")
	args := []string{"build", "twice", "--path", dir, "--builder", e.Builder, "--buildpack", layersBP()}
	var wg sync.WaitGroup
	codes := make([]int, 2)
	outs := make([]string, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], codes[i] = e.Slipway(args...)
		}()
	}
	wg.Wait()
	for i := range 2 {
		if codes[i] != 0 {
			t.Fatalf("build %d exit %d\n%s", i, codes[i], outs[i])
		}
	}
	s, _ := imagestore.Open(e.Store)
	e2ekit.DiffIDs(t, s, "twice")
	if got := e2ekit.Seen(e.MustSlipway(args...))["l-TTT"]; got != "toml=yes meta=yes content=yes" {
		t.Errorf("cache after concurrent builds: l-TTT %q", got)
	}
}
