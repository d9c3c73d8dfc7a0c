package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/slipway/slipway/imagestore"
	"github.com/slipway/slipway/lifecycle"
)

func layersBP() string { return filepath.Join(repoRoot, "e2e", "testdata", "buildpacks", "layers") }

// copyApp copies a fixture app to a temp dir the test may change.
func copyApp(t *testing.T, name string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), name)
	if out, err := exec.Command("cp", "-a", app(name), dst).CombinedOutput(); err != nil {
		t.Fatalf("copy app: %v\n%s", err, out)
	}
	return dst
}

func diffIDs(t *testing.T, s *imagestore.Store, name string) []v1.Hash {
	t.Helper()
	img, err := s.Image(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Fatalf("validate %s: %v", name, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return cf.RootFS.DiffIDs
}

// docs/architecture.md, "Never do work twice": a no-change rebuild reuses every layer, says so per layer
// under -v, and gives the same digest; a one-file change alters only the app layer.
func TestRebuildReusesLayers(t *testing.T) {
	e := newEnv(t)
	dir := copyApp(t, "hello")
	e.mustSlipway("build", "reuse", "--path", dir, "--builder", e.builder)
	s, _ := imagestore.Open(e.store)
	before := diffIDs(t, s, "reuse")
	d1 := digestOf(t, s, "reuse")
	out := e.mustSlipway("-v", "build", "reuse", "--path", dir, "--builder", e.builder)
	for _, l := range []string{"slice-1", "launcher", "config", "process-types"} {
		if !regexp.MustCompile(`layer ` + l + `: reused \(unchanged\)`).MatchString(out) {
			t.Errorf("layer %s not reported 'reused (unchanged)':\n%s", l, out)
		}
	}
	if d2 := digestOf(t, s, "reuse"); d1 != d2 {
		t.Fatalf("no-change rebuild changed the digest: %s → %s", d1, d2)
	}

	writeFile(t, filepath.Join(dir, "hello.txt"), "Changed")
	out = e.mustSlipway("-v", "build", "reuse", "--path", dir, "--builder", e.builder)
	if !strings.Contains(out, "layer slice-1: rebuilt (contents changed)") {
		t.Errorf("app layer not reported rebuilt:\n%s", out)
	}
	after := diffIDs(t, s, "reuse")
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

// seen parses the "seen l-XYZ toml=.. meta=.. content=.." lines the layers fixture prints.
func seen(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		i := strings.Index(line, "seen l-")
		if i < 0 {
			continue
		}
		f := strings.Fields(line[i:])
		m[f[1]] = strings.Join(f[2:], " ")
	}
	return m
}

// buildpack.md, Layer Types: every row of the restore table, from the materialised layers, from a
// portable --cache-dir (untarred), and with --clear-cache.
func TestRestoreTableRows(t *testing.T) {
	e := newEnv(t)
	dir := copyApp(t, "layers")
	cacheDir := filepath.Join(t.TempDir(), "cache")
	args := []string{"build", "rows", "--path", dir, "--builder", e.builder, "--buildpack", layersBP(), "--cache-dir", cacheDir}
	e.mustSlipway(args...)
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
		got := seen(out)
		for l, w := range want {
			if got[l] != w {
				t.Errorf("%s: %s restored as %q, want %q", name, l, got[l], w)
			}
		}
	}
	out := e.mustSlipway(args...)
	check("rebuild", out, full)
	if !strings.Contains(out, `seen store [metadata]  counter = "one"`) {
		t.Errorf("store.toml not restored (platform.md, Layer Restoration):\n%s", out)
	}
	// Another image name has no materialised layers: contents come from the cache tars.
	other := append([]string{"build", "rows-other"}, args[2:]...)
	other = append(other, "--previous-image", "rows")
	check("untarred from --cache-dir", e.mustSlipway(other...), full)
	cleared := map[string]string{"l-TTT": none, "l-FTF": none, "l-FFT": meta}
	check("--clear-cache", e.mustSlipway(append(args, "--clear-cache")...), cleared)
}

// buildpack.md, Launch Layers: a launch layer whose buildpack writes only the .toml is taken from the
// previous image with the same diffID.
func TestLaunchLayerReusedFromPreviousImage(t *testing.T) {
	e := newEnv(t)
	dir := copyApp(t, "layers")
	args := []string{"build", "keep", "--path", dir, "--builder", e.builder, "--buildpack", layersBP()}
	e.mustSlipway(args...)
	s, _ := imagestore.Open(e.store)
	before := diffIDs(t, s, "keep")
	beforeSHA := buildpackLayerSHA(layerMetadata(t, e.store, "keep"), "test/layers", "l-FFT")
	out := e.mustSlipway(append([]string{"-v"}, append(args, "--env", "REUSE_ONLY_TOML=1")...)...)
	if !strings.Contains(out, "layer test/layers:l-FFT: reused from the previous image") {
		t.Errorf("l-FFT not reused from the previous image:\n%s", out)
	}
	after := diffIDs(t, s, "keep")
	if len(before) != len(after) {
		t.Fatalf("layer count changed %d → %d", len(before), len(after))
	}
	// The same diffID, recorded in the label and present in the image.
	afterSHA := buildpackLayerSHA(layerMetadata(t, e.store, "keep"), "test/layers", "l-FFT")
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
	e := newEnv(t)
	dir := copyApp(t, "layers")
	args := []string{"build", "trap", "--path", dir, "--builder", e.builder, "--buildpack", layersBP()}
	e.mustSlipway(args...)
	out := e.mustSlipway(append(args, "--env", "FORGET_TYPES=1")...)
	if !strings.Contains(out, `restored cache layer "l-TTT" but did not set [types]`) || !strings.Contains(out, "DROPPED") {
		t.Errorf("no loud warning:\n%s", out)
	}
}

// A kill -9 at each point of export and cache commit leaves the previous image and cache
// intact, and the next build succeeds (docs/spec-notes.md, Caches staging → committed).
func TestCrashDuringExportAndCacheCommit(t *testing.T) {
	for _, point := range []string{"export-before-write", "export-written", "cache-staged", "cache-swapping", "cache-swapped"} {
		t.Run(point, func(t *testing.T) {
			e := newEnv(t)
			dir := copyApp(t, "layers")
			cacheDir := filepath.Join(t.TempDir(), "cache")
			args := []string{"build", "crash", "--path", dir, "--builder", e.builder, "--buildpack", layersBP(), "--cache-dir", cacheDir}
			e.mustSlipway(args...)
			s, _ := imagestore.Open(e.store)
			before := digestOf(t, s, "crash")
			writeFile(t, filepath.Join(dir, "layers.txt"), "two")
			cmd := exec.Command(slipwayBin, args...)
			cmd.Env = append(os.Environ(), "SLIPWAY_STORE="+e.store, "XDG_CACHE_HOME="+e.work, "SLIPWAY_TEST_CRASH_AT="+point)
			out, err := cmd.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 137 {
				t.Fatalf("crash build: %v\n%s", err, out)
			}
			s, _ = imagestore.Open(e.store)
			now := digestOf(t, s, "crash")
			if point == "export-before-write" && now != before {
				t.Fatalf("image changed before it was written: %s → %s", before, now)
			}
			diffIDs(t, s, "crash") // still a valid image
			// The cache is the old or the new one, never neither: a new image name with the
			// same cache dir still gets every cache layer's contents.
			out2 := e.mustSlipway("build", "crash-next", "--path", dir, "--builder", e.builder, "--buildpack", layersBP(), "--cache-dir", cacheDir)
			if got := seen(out2)["l-TTT"]; got != "toml=yes meta=yes content=yes" {
				t.Fatalf("cache lost after crash at %s: l-TTT %q\n%s", point, got, out2)
			}
			e.mustSlipway(args...)
		})
	}
}

// platform.md, Layer Restoration: a cache entry whose digest does not match is discarded with a warning.
func TestCorruptCacheEntryDiscarded(t *testing.T) {
	e := newEnv(t)
	dir := copyApp(t, "layers")
	cacheDir := filepath.Join(t.TempDir(), "cache")
	e.mustSlipway("build", "corrupt", "--path", dir, "--builder", e.builder, "--buildpack", layersBP(), "--cache-dir", cacheDir)
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
	out := e.mustSlipway("build", "corrupt-2", "--path", dir, "--builder", e.builder, "--buildpack", layersBP(), "--cache-dir", cacheDir)
	if !strings.Contains(out, "is unusable and was discarded") {
		t.Errorf("no discard warning:\n%s", out)
	}
	if got := seen(out)["l-TTT"]; got != "toml=no meta=no content=no" {
		t.Errorf("corrupt layer half-restored: %q", got)
	}
}

// Two builds of the same app at once: one waits for the other; store and cache stay valid.
func TestConcurrentBuildsOfSameApp(t *testing.T) {
	e := newEnv(t)
	dir := copyApp(t, "layers")
	args := []string{"build", "twice", "--path", dir, "--builder", e.builder, "--buildpack", layersBP()}
	var wg sync.WaitGroup
	codes := make([]int, 2)
	outs := make([]string, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], codes[i] = e.slipway(args...)
		}()
	}
	wg.Wait()
	for i := range 2 {
		if codes[i] != 0 {
			t.Fatalf("build %d exit %d\n%s", i, codes[i], outs[i])
		}
	}
	s, _ := imagestore.Open(e.store)
	diffIDs(t, s, "twice")
	if got := seen(e.mustSlipway(args...))["l-TTT"]; got != "toml=yes meta=yes content=yes" {
		t.Errorf("cache after concurrent builds: l-TTT %q", got)
	}
}

// layerMetadata reads the io.buildpacks.lifecycle.metadata label of a stored image.
func layerMetadata(t *testing.T, store, name string) lifecycle.LayersMetadata {
	t.Helper()
	s, err := imagestore.Open(store)
	if err != nil {
		t.Fatal(err)
	}
	img, err := s.Image(name)
	if err != nil {
		t.Fatal(err)
	}
	md, err := lifecycle.ReadLayersMetadata(img)
	if err != nil {
		t.Fatal(err)
	}
	return *md
}

// buildpackLayerSHA is the diffID the label records for a buildpack layer ("" when absent).
func buildpackLayerSHA(md lifecycle.LayersMetadata, bp, layer string) string {
	for _, b := range md.Buildpacks {
		if b.ID == bp {
			return b.Layers[layer].SHA
		}
	}
	return ""
}
