package debian

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
)

// Deb is what installing one .deb put into a root filesystem, and what dpkg would keep
// about it under /var/lib/dpkg.
type Deb struct {
	Control   Paragraph // the control file of control.tar
	Files     []string  // absolute paths extracted, in archive order, for info/<pkg>.list
	MD5Sums   []byte    // control.tar's md5sums, for info/<pkg>.md5sums
	Conffiles []byte    // control.tar's conffiles, for the status entry
	// Scripts names the maintainer scripts the package ships (preinst, postinst, …);
	// slipway never runs them.
	Scripts []string
	// Skipped lists entries that were not extracted: device nodes and fifos, which a
	// container runtime provides.
	Skipped []string
}

// Options of an extraction.
type ExtractOptions struct {
	// Chown applies the owners recorded in the archive; it needs root.
	Chown bool
}

// InstallFile extracts the .deb at file into root, checking while it streams that the
// file's SHA256 is wantSHA256 (from the signed index): on a mismatch it fails, and the
// caller must discard root.
func InstallFile(ctx context.Context, file, wantSHA256 string, root *os.Root, o ExtractOptions) (*Deb, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", file, err)
	}
	defer f.Close()
	h := sha256.New()
	r := io.TeeReader(bufio.NewReaderSize(f, 1<<20), h)
	deb, err := Extract(ctx, r, root, file, o)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != wantSHA256 {
		return nil, &HashMismatchError{URL: file, Want: wantSHA256, Got: got}
	}
	return deb, nil
}

// Extract streams a .deb (an ar archive of debian-binary, control.tar.* and data.tar.*)
// and extracts its data into root. Paths that would leave the root (.., or through a
// symlink pointing outside) are refused: os.Root enforces it. name is used in errors.
func Extract(ctx context.Context, r io.Reader, root *os.Root, name string, o ExtractOptions) (*Deb, error) {
	magic := make([]byte, 8)
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != "!<arch>\n" {
		return nil, fmt.Errorf("read %s: not a .deb (ar archive)", name)
	}
	deb := &Deb{}
	var sawControl, sawData bool
	for {
		hdr := make([]byte, 60)
		if _, err := io.ReadFull(r, hdr); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("read %s: truncated ar header: %w", name, err)
		}
		if string(hdr[58:60]) != "`\n" {
			return nil, fmt.Errorf("read %s: corrupt ar member header", name)
		}
		member := strings.TrimSuffix(strings.TrimSpace(string(hdr[0:16])), "/")
		size, err := strconv.ParseInt(strings.TrimSpace(string(hdr[48:58])), 10, 64)
		if err != nil || size < 0 {
			return nil, fmt.Errorf("read %s: bad size of ar member %s", name, member)
		}
		body := io.LimitReader(r, size)
		switch {
		case member == "debian-binary":
			v, _ := io.ReadAll(body)
			if !strings.HasPrefix(string(v), "2.") {
				return nil, fmt.Errorf("read %s: unsupported .deb format %q", name, strings.TrimSpace(string(v)))
			}
		case strings.HasPrefix(member, "control.tar"):
			if err := readControl(body, member, deb); err != nil {
				return nil, fmt.Errorf("read %s: %s: %w", name, member, err)
			}
			sawControl = true
		case strings.HasPrefix(member, "data.tar"):
			if err := extractData(ctx, body, member, root, deb, o); err != nil {
				return nil, fmt.Errorf("extract %s: %w", name, err)
			}
			sawData = true
		}
		if _, err := io.Copy(io.Discard, body); err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		if size%2 == 1 { // ar members are 2-byte aligned
			if _, err := io.ReadFull(r, make([]byte, 1)); err != nil && !errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("read %s: %w", name, err)
			}
		}
	}
	if !sawControl || !sawData {
		return nil, fmt.Errorf("read %s: not a binary package (control.tar or data.tar missing)", name)
	}
	return deb, nil
}

var maintainerScripts = map[string]bool{"preinst": true, "postinst": true, "prerm": true, "postrm": true, "config": true, "triggers": true}

func readControl(r io.Reader, member string, deb *Deb) error {
	dr, err := Decompress(r, member)
	if err != nil {
		return err
	}
	defer dr.Close()
	tr := tar.NewReader(dr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		n := path.Clean(strings.TrimPrefix(h.Name, "./"))
		switch {
		case n == "control":
			b, err := readAllLimit(tr, 1<<20)
			if err != nil {
				return fmt.Errorf("control: %w", err)
			}
			if err := ReadParagraphs(bytes.NewReader(b), "control", func(p Paragraph) error {
				if deb.Control == nil {
					deb.Control = p
				}
				return nil
			}); err != nil {
				return err
			}
		case n == "md5sums":
			if deb.MD5Sums, err = readAllLimit(tr, 64<<20); err != nil {
				return fmt.Errorf("md5sums: %w", err)
			}
		case n == "conffiles":
			if deb.Conffiles, err = readAllLimit(tr, 1<<20); err != nil {
				return fmt.Errorf("conffiles: %w", err)
			}
		case maintainerScripts[n]:
			deb.Scripts = append(deb.Scripts, n)
		}
	}
	if deb.Control.Get("Package") == "" {
		return fmt.Errorf("no control file with a Package field")
	}
	return nil
}

// safeName turns an archive path into a root-relative one, refusing any that climbs out.
func safeName(n string) (string, error) {
	n = strings.TrimPrefix(n, "./")
	n = strings.TrimLeft(n, "/")
	if n == "" || n == "." {
		return ".", nil
	}
	for _, part := range strings.Split(strings.TrimSuffix(n, "/"), "/") {
		if part == ".." {
			return "", fmt.Errorf("path %q leaves the root filesystem", n)
		}
	}
	return path.Clean(n), nil
}

func extractData(ctx context.Context, r io.Reader, member string, root *os.Root, deb *Deb, o ExtractOptions) error {
	dr, err := Decompress(r, member)
	if err != nil {
		return fmt.Errorf("%s: %w", member, err)
	}
	defer dr.Close()
	tr := tar.NewReader(dr)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", member, err)
		}
		n, err := safeName(h.Name)
		if err != nil {
			return fmt.Errorf("refusing %s: %w", member, err)
		}
		if n == "." {
			deb.Files = append(deb.Files, "/.")
			continue
		}
		if err := extractEntry(root, n, h, tr, deb, o); err != nil {
			return fmt.Errorf("%s: /%s: %w", member, n, err)
		}
	}
}

func extractEntry(root *os.Root, n string, h *tar.Header, body io.Reader, deb *Deb, o ExtractOptions) error {
	mode := fs.FileMode(h.Mode) & fs.ModePerm
	if h.Mode&04000 != 0 {
		mode |= fs.ModeSetuid
	}
	if h.Mode&02000 != 0 {
		mode |= fs.ModeSetgid
	}
	if h.Mode&01000 != 0 {
		mode |= fs.ModeSticky
	}
	switch h.Typeflag {
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		deb.Skipped = append(deb.Skipped, "/"+n)
		return nil
	case tar.TypeDir, tar.TypeReg, tar.TypeSymlink, tar.TypeLink:
	default:
		deb.Skipped = append(deb.Skipped, "/"+n)
		return nil
	}
	if dir := path.Dir(n); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	deb.Files = append(deb.Files, "/"+n)
	existing, lerr := root.Lstat(n)
	if h.Typeflag == tar.TypeDir {
		if lerr == nil {
			if existing.IsDir() {
				return setAttrs(root, n, h, mode, o)
			}
			// A symlink to a directory stays, as with dpkg: this is how the merged-/usr
			// links (/bin → usr/bin) survive packages that still ship /bin.
			if existing.Mode()&fs.ModeSymlink != 0 {
				if fi, err := root.Stat(n); err == nil && fi.IsDir() {
					return nil
				}
			}
			if err := root.Remove(n); err != nil {
				return err
			}
		}
		if err := root.Mkdir(n, 0o755); err != nil {
			return err
		}
		return setAttrs(root, n, h, mode, o)
	}
	if lerr == nil {
		if existing.IsDir() {
			return fmt.Errorf("a directory is in the way")
		}
		if err := root.Remove(n); err != nil {
			return err
		}
	}
	switch h.Typeflag {
	case tar.TypeSymlink:
		if err := root.Symlink(h.Linkname, n); err != nil {
			return err
		}
		if o.Chown {
			return root.Lchown(n, h.Uid, h.Gid)
		}
		return nil
	case tar.TypeLink:
		target, err := safeName(h.Linkname)
		if err != nil {
			return fmt.Errorf("hard link target: %w", err)
		}
		return root.Link(target, n)
	}
	f, err := root.OpenFile(n, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, body); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return setAttrs(root, n, h, mode, o)
}

// setAttrs sets owner, then mode: chown clears setuid bits, so the order matters.
func setAttrs(root *os.Root, n string, h *tar.Header, mode fs.FileMode, o ExtractOptions) error {
	if o.Chown {
		if err := root.Lchown(n, h.Uid, h.Gid); err != nil {
			return err
		}
	}
	return root.Chmod(n, mode)
}
