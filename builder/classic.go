package builder

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/slipway/slipway/buildpack"
	"github.com/slipway/slipway/project"
)

// Classic (Heroku / Cloud Foundry) buildpacks are laid out like CNB ones, under
// <buildpacks>/classic_<name>/<version>/, with a generated buildpack.toml beside the
// untouched tree in classic/ (see buildpack/classic.go and docs/classic-buildpacks.md).

// classicOrigin is where a classic buildpack came from: its source (for the name and
// messages), the git ref it was fetched at, and its content digest.
type classicOrigin struct {
	source string
	ref    string
	digest string // hex sha256; of the archive, or of the tree for directories
}

// layoutClassicDir copies the classic buildpack directory src into the buildpacks dir.
func layoutClassicDir(ctx context.Context, src, dest string, o classicOrigin) (*buildpack.Descriptor, error) {
	if o.digest == "" {
		d, err := treeDigest(src)
		if err != nil {
			return nil, fmt.Errorf("lay out classic buildpack %s: %w", src, err)
		}
		o.digest = d
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return nil, fmt.Errorf("lay out classic buildpack %s: %w", src, err)
	}
	stage, err := os.MkdirTemp(dest, ".stage-*")
	if err != nil {
		return nil, fmt.Errorf("lay out classic buildpack %s: %w", src, err)
	}
	defer os.RemoveAll(stage)
	tree := filepath.Join(stage, "bp")
	if err := project.CopyApp(ctx, src, filepath.Join(tree, buildpack.ClassicTreeDir), nil, nil); err != nil {
		return nil, fmt.Errorf("lay out classic buildpack %s: %w", src, err)
	}
	return installClassic(tree, dest, o)
}

// installClassic describes the staged tree (whose classic/ holds the buildpack) and
// installs it.
func installClassic(tree, dest string, o classicOrigin) (*buildpack.Descriptor, error) {
	name := buildpack.ClassicName(o.source)
	version := buildpack.ClassicVersion(o.ref, o.digest)
	if _, err := buildpack.WriteClassicDescriptor(tree, name, version, o.source); err != nil {
		return nil, err
	}
	return install(tree, dest)
}

// classicRoot finds the buildpack in an extracted archive: its root, or the single
// top-level directory archives made by git hosts (name-<ref>/bin/compile) have.
func classicRoot(dir string) (string, bool) {
	if buildpack.IsClassicDir(dir) {
		return dir, true
	}
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) != 1 || !ents[0].IsDir() {
		return "", false
	}
	sub := filepath.Join(dir, ents[0].Name())
	return sub, buildpack.IsClassicDir(sub)
}

// fileDigest is the hex sha256 of a file.
func fileDigest(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// treeDigest hashes a directory's paths, kinds, executable bits, file contents and link
// targets in walk (lexical) order: the same tree gives the same version.
func treeDigest(dir string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if e.IsDir() && e.Name() == ".git" {
			return filepath.SkipDir
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		switch {
		case e.IsDir():
			fmt.Fprintf(h, "d %s\x00", rel)
		case info.Mode()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "l %s %s\x00", rel, l)
		case info.Mode().IsRegular():
			fmt.Fprintf(h, "f %s %t %d\x00", rel, info.Mode()&0o111 != 0, info.Size())
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// layoutClassicTree installs the classic buildpack extracted from archive at root (inside
// stage), versioned by the archive's digest.
func layoutClassicTree(archive, source, root, stage, dest string) (*buildpack.Descriptor, error) {
	digest, err := fileDigest(archive)
	if err != nil {
		return nil, fmt.Errorf("lay out classic buildpack %s: %w", archive, err)
	}
	tree := filepath.Join(stage, "classic-bp")
	if err := os.MkdirAll(tree, 0o755); err != nil {
		return nil, fmt.Errorf("lay out classic buildpack %s: %w", archive, err)
	}
	if err := os.Rename(root, filepath.Join(tree, buildpack.ClassicTreeDir)); err != nil {
		return nil, fmt.Errorf("lay out classic buildpack %s: %w", archive, err)
	}
	return installClassic(tree, dest, classicOrigin{source: source, digest: digest})
}
