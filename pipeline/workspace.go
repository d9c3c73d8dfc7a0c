package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// appDirs are the per-app host directories bound into the sandbox at the CNB paths.
type appDirs struct {
	root      string
	workspace string // → /workspace
	layers    string // → /layers
	platform  string // → /platform
	cnb       string // → /cnb
	scratch   string // exporter scratch space, never bound
}

// openAppDirs creates (or reuses) the working directories of one output image under
// <workDir>/apps/<hash> and takes an exclusive lock on them, so two builds of the same app
// wait for each other instead of corrupting each other's layers. Release with unlock.
func openAppDirs(workDir, image string) (*appDirs, func(), error) {
	sum := sha256.Sum256([]byte(image))
	root := filepath.Join(workDir, "apps", hex.EncodeToString(sum[:8]))
	d := &appDirs{
		root:      root,
		workspace: filepath.Join(root, "workspace"),
		layers:    filepath.Join(root, "layers"),
		platform:  filepath.Join(root, "platform"),
		cnb:       filepath.Join(root, "cnb"),
		scratch:   filepath.Join(root, "scratch"),
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, nil, fmt.Errorf("create build directory %s: %w", root, err)
	}
	lock, err := os.OpenFile(filepath.Join(root, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("open build lock %s: %w", root, err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		lock.Close()
		return nil, nil, fmt.Errorf("lock build directory %s: %w", root, err)
	}
	unlock := func() {
		syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
		lock.Close()
	}
	// platform, cnb and scratch are rebuilt each time; the workspace is a synced copy of the
	// app, kept so unchanged files are not copied again; the buildpack dirs in layers are the
	// materialised build cache, which the restore step prunes to what buildpack.md, Layer Types allows.
	if err := cleanLayersDir(d.layers); err != nil {
		unlock()
		return nil, nil, err
	}
	for _, dir := range []string{d.platform, d.cnb, d.scratch} {
		if err := os.RemoveAll(dir); err != nil {
			unlock()
			return nil, nil, fmt.Errorf("clean %s: %w", dir, err)
		}
	}
	for _, dir := range []string{d.workspace, d.layers, filepath.Join(d.platform, "env"),
		filepath.Join(d.cnb, "buildpacks"), filepath.Join(d.cnb, "lifecycle"),
		filepath.Join(d.cnb, "build-config", "env"), d.scratch} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			unlock()
			return nil, nil, fmt.Errorf("create %s: %w", dir, err)
		}
	}
	// The slipway binary is bound at /cnb/lifecycle/slipway inside the read-only /cnb bind,
	// so its mount point must exist beforehand.
	if err := os.WriteFile(filepath.Join(d.cnb, "lifecycle", "slipway"), nil, 0o755); err != nil {
		unlock()
		return nil, nil, fmt.Errorf("create lifecycle mount point: %w", err)
	}
	return d, unlock, nil
}

// cleanLayersDir removes everything of the last build from <layers> except buildpack
// directories: analyzed/group/plan.toml, config/ and sbom/ are outputs of this build's phases.
func cleanLayersDir(layers string) error {
	entries, err := os.ReadDir(layers)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return fmt.Errorf("read %s: %w", layers, err)
	}
	for _, e := range entries {
		if e.IsDir() && e.Name() != "config" && e.Name() != "sbom" {
			continue
		}
		if err := os.RemoveAll(filepath.Join(layers, e.Name())); err != nil {
			return fmt.Errorf("clean %s: %w", layers, err)
		}
	}
	return nil
}
