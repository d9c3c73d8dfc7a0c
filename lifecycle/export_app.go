package lifecycle

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipway/slipway/launch"
	"github.com/slipway/slipway/layer"
)

// planAppLayers splits the app dir into slice layers and a final layer of the remaining files
// (buildpack.md, Slice Layers; docs/spec-notes.md, Image layer order item 5).
func (p *exportPlan) planAppLayers(ctx context.Context) error {
	groups, err := sliceApp(ctx, p.in.AppDir, p.md.Slices)
	if err != nil {
		return err
	}
	for i, files := range groups {
		n := i + 1
		p.layers = append(p.layers, &exportLayer{
			name:      fmt.Sprintf("slice-%d", n),
			createdBy: fmt.Sprintf("Application Slice: %d", n),
			build: func(ctx context.Context) (v1.Layer, error) {
				return layer.FromFiles(ctx, p.in.AppDir, p.in.ImageAppDir, files, p.opts)
			},
			fingerprint: func(ctx context.Context) (string, error) {
				return layer.FingerprintFiles(ctx, p.in.AppDir, p.in.ImageAppDir, files, p.opts)
			},
			record: func(sha string) { p.meta.App = append(p.meta.App, LayerSHA{SHA: sha}) },
		})
	}
	return nil
}

type appEntry struct {
	rel   string // slash-separated, relative to the app dir
	isDir bool
}

// sliceApp returns one sorted path list per non-empty slice, then the remaining files. A glob
// matching a directory takes all its children; a file goes to the first slice that claims
// it; directories are repeated wherever needed and all of them are in the last layer, so empty
// directories survive (buildpack.md, Slice Layers).
func sliceApp(ctx context.Context, appDir string, slices []launch.Slice) ([][]string, error) {
	var all []appEntry
	err := filepath.WalkDir(appDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("walk app dir: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(appDir, p)
		if err != nil || rel == "." {
			return err
		}
		all = append(all, appEntry{rel: filepath.ToSlash(rel), isDir: d.IsDir()})
		return nil
	})
	if err != nil {
		return nil, err
	}
	claimed := map[string]bool{}
	var out [][]string
	for si, s := range slices {
		var pats []string
		for _, g := range s.Paths {
			pat := path.Clean(filepath.ToSlash(g))
			if path.IsAbs(pat) || pat == ".." || strings.HasPrefix(pat, "../") {
				return nil, fmt.Errorf("launch.toml slice %d: path %q escapes the app dir", si+1, g)
			}
			if _, err := path.Match(pat, ""); err != nil {
				return nil, fmt.Errorf("launch.toml slice %d: bad glob %q: %w", si+1, g, err)
			}
			pats = append(pats, pat)
		}
		var own []string
		matchedDirs := map[string]bool{}
		for _, e := range all {
			in := underAny(e.rel, matchedDirs)
			for _, pat := range pats {
				if ok, _ := path.Match(pat, e.rel); ok || pat == "." {
					in = true
					break
				}
			}
			switch {
			case !in:
			case e.isDir:
				matchedDirs[e.rel] = true
				own = append(own, e.rel)
			case !claimed[e.rel]:
				own = append(own, e.rel)
			}
		}
		for _, f := range own {
			claimed[f] = true
		}
		if len(own) == 0 {
			continue // an empty slice is allowed and adds no layer
		}
		out = append(out, own)
	}
	var rest []string
	for _, e := range all {
		if e.isDir || !claimed[e.rel] {
			rest = append(rest, e.rel)
		}
	}
	return append(out, rest), nil
}

// underAny reports whether rel lies below one of dirs (the walk visits a dir before its
// children, so dirs is complete for rel's ancestors).
func underAny(rel string, dirs map[string]bool) bool {
	for d := path.Dir(rel); d != "."; d = path.Dir(d) {
		if dirs[d] {
			return true
		}
	}
	return false
}
