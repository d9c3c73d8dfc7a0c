package layer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// A fingerprint summarises everything a layer would be made of without reading any file
// content: the options that shape the tar, and for every host entry its path, type, mode,
// size, symlink target, inode, device, link count, owner, mtime and ctime. Two equal
// fingerprints of a tree mean the tar would be byte-identical, so the previous layer's
// diffID, digest and blob can be reused without tar, hash or gzip (docs/architecture.md, "Never do work twice", docs/spec-notes.md, Layer reuse). Fingerprints are host-local: never put them in an image.

// fingerprintVersion changes whenever the writer's output for the same input could change.
const fingerprintVersion = "slipway-layer-fingerprint-v1"

type fingerprinter struct {
	h hash.Hash
	// content hashes file bytes instead of inode and times: for small trees that are
	// rewritten with the same bytes on every build (<layers>/config).
	content bool
}

func newFingerprinter(imagePath string, opts Options) *fingerprinter {
	f := &fingerprinter{h: sha256.New()}
	mod := opts.ModTime
	if mod.IsZero() {
		mod = Epoch()
	}
	fmt.Fprintf(f.h, "%s\x00%s\x00%s\x00%d:%d:%d:%d\x00%d\x00%t\x00", fingerprintVersion, imagePath, opts.MediaType,
		opts.UID, opts.GID, opts.ParentUID, opts.ParentGID, mod.UTC().Unix(), opts.Uncompressed)
	return f
}

func (f *fingerprinter) add(name, hostPath string) error {
	fi, err := os.Lstat(hostPath)
	if err != nil {
		return fmt.Errorf("stat %s: %w", hostPath, err)
	}
	target := ""
	if fi.Mode()&fs.ModeSymlink != 0 {
		if target, err = os.Readlink(hostPath); err != nil {
			return fmt.Errorf("read symlink %s: %w", hostPath, err)
		}
	}
	k := statKey(fi)
	if fi.IsDir() {
		// A directory's mtime, ctime and link count move whenever an entry is added to or
		// removed from it (a buildpack deleting sources, the workspace sync putting them
		// back); the tar writes neither, and its children are fingerprinted one by one,
		// which is what matters for the tar.
		k[2], k[3], k[4] = 0, 0, 0
	}
	if f.content {
		k = [6]int64{}
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(hostPath)
			if err != nil {
				return fmt.Errorf("read %s: %w", hostPath, err)
			}
			sum := sha256.Sum256(b)
			target = hex.EncodeToString(sum[:])
		}
	}
	fmt.Fprintf(f.h, "%s\x00%d\x00%d\x00%s\x00%d:%d:%d:%d:%d:%d\n", name, uint32(fi.Mode()), fi.Size(), target, k[0], k[1], k[2], k[3], k[4], k[5])
	return nil
}

func (f *fingerprinter) sum() string { return "fp:" + hex.EncodeToString(f.h.Sum(nil)) }

// FingerprintDir is the fingerprint of FromDir(ctx, hostDir, imagePath, opts). It stats every
// entry and reads no file.
func FingerprintDir(ctx context.Context, hostDir, imagePath string, opts Options) (string, error) {
	return fingerprintDir(ctx, newFingerprinter(imagePath, opts), hostDir)
}

// FingerprintDirContents is FingerprintDir reading every file's bytes instead of its inode and
// times: for small trees rewritten with identical bytes on every build, like <layers>/config.
func FingerprintDirContents(ctx context.Context, hostDir, imagePath string, opts Options) (string, error) {
	f := newFingerprinter(imagePath, opts)
	f.content = true
	fmt.Fprint(f.h, "content\x00")
	return fingerprintDir(ctx, f, hostDir)
}

func fingerprintDir(ctx context.Context, f *fingerprinter, hostDir string) (string, error) {
	err := filepath.WalkDir(hostDir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("walk %s: %w", p, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(hostDir, p)
		if err != nil {
			return err
		}
		return f.add(filepath.ToSlash(rel), p)
	})
	if err != nil {
		return "", fmt.Errorf("fingerprint %s: %w", hostDir, err)
	}
	return f.sum(), nil
}

// FingerprintFiles is the fingerprint of FromFiles(ctx, root, imagePath, rel, opts).
func FingerprintFiles(ctx context.Context, root, imagePath string, rel []string, opts Options) (string, error) {
	f := newFingerprinter(imagePath, opts)
	if err := f.add(".", root); err != nil {
		return "", err
	}
	seen := map[string]bool{}
	sorted := make([]string, 0, len(rel))
	for _, r := range rel {
		sorted = append(sorted, path.Clean(filepath.ToSlash(r)))
	}
	slices.Sort(sorted)
	for _, r := range sorted {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		parts := strings.Split(r, "/")
		for i := 1; i <= len(parts); i++ {
			sub := strings.Join(parts[:i], "/")
			if sub == "." || seen[sub] {
				continue
			}
			seen[sub] = true
			if err := f.add(sub, filepath.Join(root, filepath.FromSlash(sub))); err != nil {
				return "", fmt.Errorf("fingerprint %s: %w", root, err)
			}
		}
	}
	return f.sum(), nil
}

// FingerprintEntries is the fingerprint of FromEntries(ctx, entries, opts).
func FingerprintEntries(entries []Entry, opts Options) (string, error) {
	f := newFingerprinter("", opts)
	for _, e := range entries {
		fmt.Fprintf(f.h, "%d\x00%s\x00%s\x00%d:%d:%o\n", e.Type, e.Path, e.Target, e.Owner.UID, e.Owner.GID, e.Owner.Mode)
		if e.Type == EntryFile {
			if err := f.add(e.Path, e.HostPath); err != nil {
				return "", err
			}
		}
	}
	return f.sum(), nil
}
