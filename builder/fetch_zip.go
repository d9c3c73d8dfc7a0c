package builder

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/slipway/slipway/untar"
)

// Cloud Foundry distributes buildpacks as .zip files. A zip is not extracted by a second
// extractor: its entries are re-encoded as a tar stream and written by untar, so the same
// rules hold for both (no entry, link or write through a link lands outside the
// directory; the size budget applies).

// zipMagic starts every zip file (a local file header).
var zipMagic = []byte("PK\x03\x04")

// isZip reports whether the file at p is a zip archive.
func isZip(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, len(zipMagic))
	if _, err := io.ReadFull(f, head); err != nil {
		return false
	}
	return bytes.Equal(head, zipMagic)
}

// extractZip writes the zip archive's entries into dir through untar.
func extractZip(ctx context.Context, archive, dir string) error {
	zr, err := zip.OpenReader(archive)
	if err != nil {
		return fmt.Errorf("extract %s: %w", archive, err)
	}
	defer zr.Close()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("extract %s: %w", archive, err)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(zipToTar(ctx, &zr.Reader, pw)) }()
	err = untar.Into(ctx, pr, dir, untar.Options{})
	pr.CloseWithError(io.ErrClosedPipe) // stop the writer if untar gave up early
	if err != nil {
		return fmt.Errorf("extract %s: %w", archive, err)
	}
	return nil
}

// maxZipLink bounds a symlink target read from a zip entry's content.
const maxZipLink = 4096

// zipToTar re-encodes every zip entry as a tar entry: directories, regular files (with the
// permission bits zip recorded, 0644/0755 when it recorded none) and symlinks (their target
// is the entry's content, as Info-ZIP stores them).
func zipToTar(ctx context.Context, zr *zip.Reader, w io.Writer) error {
	tw := tar.NewWriter(w)
	for _, f := range zr.File {
		if err := ctx.Err(); err != nil {
			return err
		}
		mode := f.Mode()
		hdr := &tar.Header{Name: f.Name, ModTime: f.Modified, Mode: int64(mode.Perm())}
		switch {
		case mode.IsDir():
			hdr.Typeflag = tar.TypeDir
			if hdr.Mode == 0 {
				hdr.Mode = 0o755
			}
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
		case mode&fs.ModeSymlink != 0:
			rc, err := f.Open()
			if err != nil {
				return fmt.Errorf("zip entry %q: %w", f.Name, err)
			}
			target, err := io.ReadAll(io.LimitReader(rc, maxZipLink+1))
			rc.Close()
			if err != nil {
				return fmt.Errorf("zip entry %q: %w", f.Name, err)
			}
			if len(target) > maxZipLink {
				return fmt.Errorf("zip entry %q: symlink target longer than %d bytes", f.Name, maxZipLink)
			}
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, string(target)
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
		case mode.IsRegular():
			if hdr.Mode == 0 {
				hdr.Mode = 0o644
			}
			hdr.Typeflag, hdr.Size = tar.TypeReg, int64(f.UncompressedSize64)
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			rc, err := f.Open()
			if err != nil {
				return fmt.Errorf("zip entry %q: %w", f.Name, err)
			}
			// zip verifies the CRC and the declared size at EOF.
			_, err = io.Copy(tw, rc)
			rc.Close()
			if err != nil {
				return fmt.Errorf("zip entry %q: %w", f.Name, err)
			}
		default:
			// Devices and pipes have no place in a buildpack.
		}
	}
	return tw.Close()
}
