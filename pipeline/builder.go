package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/slipway/slipway/builder"
	"github.com/slipway/slipway/nofollow"
	"github.com/slipway/slipway/untar"
)

// chooseBuilder picks the builder like pack: --builder, else project.toml's builder, else
// the default builder.
func chooseBuilder(ctx context.Context, o Options, proj *projectFile) (string, error) {
	switch {
	case o.Builder != "":
		return o.Builder, nil
	case proj.d != nil && proj.d.Builder != "":
		return proj.d.Builder, nil
	case o.DefaultBuilder != nil:
		return o.DefaultBuilder(ctx)
	}
	return "", errors.New("no builder: pass --builder with a builder.toml or builder image (or set [io.buildpacks] builder in project.toml)")
}

// loadBuilder reads a builder.toml, or a builder image from the local store or a registry.
// For an image, the image itself is the build image (its rootfs is the sandbox) and its
// buildpacks are extracted once per image digest under the work dir.
func loadBuilder(ctx context.Context, o Options, ref string) (*builder.Config, *resolvedImage, error) {
	if fi, err := os.Stat(ref); err == nil && !fi.IsDir() {
		cfg, err := builder.ReadConfig(ref)
		if err != nil {
			return nil, nil, err
		}
		src := imageSource{store: o.Store, reg: o.Registry}
		if err := builder.ResolveBuildpackages(ctx, cfg, filepath.Join(o.WorkDir, "buildpackages"), src.Image); err != nil {
			return nil, nil, err
		}
		img, err := resolveImage(ctx, src, cfg.Build.Image)
		if err != nil {
			return nil, nil, fmt.Errorf("build image of %s: %w", ref, err)
		}
		return cfg, img, nil
	}
	img, err := resolveImage(ctx, imageSource{store: o.Store, reg: o.Registry}, ref)
	if err != nil {
		return nil, nil, fmt.Errorf("builder %s is neither a builder.toml file nor a builder image: %w", ref, err)
	}
	dig, err := img.Image.Digest()
	if err != nil {
		return nil, nil, fmt.Errorf("builder %s: %w", ref, err)
	}
	dest := filepath.Join(o.WorkDir, "builders", dig.Hex)
	cfg, err := extractBuilder(ctx, img, dest)
	if err != nil {
		return nil, nil, fmt.Errorf("builder %s: %w", ref, err)
	}
	cfg.Build.Image = ref
	return cfg, img, nil
}

// extractBuilder lays out a builder image's buildpacks under dest once: a complete
// extraction is renamed into place, so an interrupted one is redone, never half-used.
func extractBuilder(ctx context.Context, img *resolvedImage, dest string) (*builder.Config, error) {
	bpDir := filepath.Join(dest, "buildpacks")
	if _, err := os.Stat(bpDir); err == nil {
		return builder.FromExtractedImage(ctx, img.Image, bpDir)
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(dest, ".extract-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if _, err := builder.FromImage(ctx, img.Image, tmp); err != nil {
		return nil, err
	}
	// A concurrent build may have won the rename; its extraction is as good as ours.
	if err := os.Rename(tmp, bpDir); err != nil {
		if _, serr := os.Stat(bpDir); serr != nil {
			return nil, err
		}
	}
	return builder.FromExtractedImage(ctx, img.Image, bpDir)
}

// copyMissingFiles copies the regular files of the rootfs directory rel into dst, keeping
// files dst already has.
// A missing src is not an error.
func copyMissingFiles(rootfs, rel, dst string) error {
	// The image's path is resolved as inside the image and read without following links:
	// a build image whose cnb/build-config/env is a symlink to a host directory must not
	// get the host's files into the sandbox.
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		return fmt.Errorf("open build image rootfs: %w", err)
	}
	defer root.Close()
	src, err := untar.Resolve(root, rel)
	if err != nil {
		return fmt.Errorf("build image /%s: %w", rel, err)
	}
	entries, err := nofollow.ReadDir(rootfs, src)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("build image /%s: %w", rel, err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		to := filepath.Join(dst, e.Name())
		if _, err := os.Lstat(to); err == nil {
			continue
		}
		if err := copyFile(rootfs, src+"/"+e.Name(), to); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(rootfs, rel, to string) error {
	in, err := nofollow.Open(rootfs, rel)
	if err != nil {
		return fmt.Errorf("copy build image /%s: %w", rel, err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("copy build image /%s: %w", rel, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy build image /%s: %w", rel, err)
	}
	return out.Close()
}
