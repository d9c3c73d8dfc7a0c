package nodejs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/slipway/slipway/buildpacks/sdk"
	"github.com/slipway/slipway/fscopy"
)

// layerBuildCache keeps the caches front-end build tools write into the project between
// builds: a cache-only layer, so it never lands in the image.
const layerBuildCache = "build-cache"

// buildCacheDirs are the project-relative directories build tools use as caches: babel,
// eslint, webpack and terser (node_modules/.cache, through find-cache-dir), Next.js
// (.next/cache) and the Angular CLI (.angular/cache).
var buildCacheDirs = []string{"node_modules/.cache", ".next/cache", ".angular/cache"}

// buildCaches tracks where each cache was put for the build scripts.
type buildCaches struct {
	layer   *sdk.Layer
	dir     string
	parents map[string]time.Time // parent dir → mtime before the cache was moved in
}

// restoreBuildCaches moves the caches of the previous build from the build-cache layer into
// the project, where the build scripts expect them.
func restoreBuildCaches(bc sdk.BuildContext, dir string) (*buildCaches, error) {
	lay, err := bc.Layers.Get(layerBuildCache)
	if err != nil {
		return nil, err
	}
	c := &buildCaches{layer: lay, dir: dir, parents: map[string]time.Time{}}
	for _, rel := range buildCacheDirs {
		dst := filepath.Join(dir, rel)
		parent := filepath.Dir(dst)
		if fi, err := os.Stat(parent); err == nil {
			c.parents[parent] = fi.ModTime()
		}
		src := filepath.Join(lay.Path, cacheName(rel))
		if !isDir(src) {
			continue
		}
		if _, err := os.Lstat(dst); err == nil {
			continue // the app ships its own; leave it
		}
		if !isDir(parent) {
			if err := os.MkdirAll(parent, 0o755); err != nil {
				return nil, fmt.Errorf("restore build cache %s: %w", rel, err)
			}
		}
		if err := moveDir(src, dst); err != nil {
			return nil, fmt.Errorf("restore build cache %s: %w", rel, err)
		}
		bc.Log.Step("Restored build cache %s from the previous build", rel)
	}
	return c, nil
}

// save moves the caches the build scripts wrote back into the build-cache layer, out of the
// project and the module layers, and puts their parents' mtimes back so an unchanged
// modules layer keeps its fingerprint.
func (c *buildCaches) save() error {
	if err := os.MkdirAll(c.layer.Path, 0o755); err != nil {
		return fmt.Errorf("create layer %s: %w", c.layer.Path, err)
	}
	for _, rel := range buildCacheDirs {
		src := filepath.Join(c.dir, rel)
		if fi, err := os.Lstat(src); err != nil || !fi.IsDir() {
			continue
		}
		dst := filepath.Join(c.layer.Path, cacheName(rel))
		if err := os.RemoveAll(dst); err != nil {
			return fmt.Errorf("save build cache %s: %w", rel, err)
		}
		if err := moveDir(src, dst); err != nil {
			return fmt.Errorf("save build cache %s: %w", rel, err)
		}
		parent := filepath.Dir(src)
		if t, ok := c.parents[parent]; ok {
			os.Chtimes(parent, t, t)
		}
	}
	c.layer.Types = sdk.LayerTypes{Cache: true}
	return c.layer.Write()
}

func cacheName(rel string) string { return strings.ReplaceAll(rel, "/", "_") }

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// moveDir renames src to dst, copying when they are on different mounts (the app and the
// layers directory are separate bind mounts in a build container).
func moveDir(src, dst string) error {
	err := os.Rename(src, dst)
	if err == nil || !errors.Is(err, syscall.EXDEV) {
		return err
	}
	if err := fscopy.Tree(src, dst); err != nil {
		os.RemoveAll(dst)
		return err
	}
	return os.RemoveAll(src)
}
