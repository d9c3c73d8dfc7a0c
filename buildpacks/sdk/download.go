package sdk

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Checksum is an expected digest of a download.
type Checksum struct {
	Algorithm string // "sha256" or "sha512"
	Sum       []byte
}

// SHA256Hex is a checksum given as hex SHA-256, the form of SHASUMS256.txt files.
func SHA256Hex(s string) (Checksum, error) {
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != sha256.Size {
		return Checksum{}, fmt.Errorf("parse SHA-256 %q: not 64 hex digits", s)
	}
	return Checksum{Algorithm: "sha256", Sum: b}, nil
}

// ParseSRI parses a Subresource Integrity string such as npm's dist.integrity
// ("sha512-<base64>"). When it lists several, the strongest supported one is used.
func ParseSRI(s string) (Checksum, error) {
	var best Checksum
	for _, f := range strings.Fields(s) {
		alg, b64, ok := strings.Cut(f, "-")
		if !ok {
			continue
		}
		sum, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return Checksum{}, fmt.Errorf("parse integrity %q: %w", s, err)
		}
		switch {
		case alg == "sha512" && len(sum) == sha512.Size:
			best = Checksum{Algorithm: alg, Sum: sum}
		case alg == "sha256" && len(sum) == sha256.Size && best.Algorithm == "":
			best = Checksum{Algorithm: alg, Sum: sum}
		}
	}
	if best.Algorithm == "" {
		return Checksum{}, fmt.Errorf("parse integrity %q: no sha512 or sha256 digest", s)
	}
	return best, nil
}

func (c Checksum) String() string { return c.Algorithm + ":" + hex.EncodeToString(c.Sum) }

func (c Checksum) newHash() (hash.Hash, error) {
	switch c.Algorithm {
	case "sha256":
		return sha256.New(), nil
	case "sha512":
		return sha512.New(), nil
	}
	return nil, fmt.Errorf("unsupported checksum algorithm %q", c.Algorithm)
}

// ChecksumError says a download's bytes differ from the expected digest; it is never
// extracted.
type ChecksumError struct {
	URL           string
	Expected, Got string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("checksum mismatch for %s: expected %s, got %s; refusing to use it (check the mirror or registry configuration)", e.URL, e.Expected, e.Got)
}

// Mirror rewrites download URLs that start with From to start with To instead, for
// air-gapped or proxied installs.
type Mirror struct {
	From, To string
}

// Fetcher downloads dependencies and verifies them before anything reads their contents.
type Fetcher struct {
	// Client is the HTTP client; nil means http.DefaultClient (which honours HTTP(S)_PROXY,
	// part of the lifecycle's include-list, docs/spec-notes.md, Build environment).
	Client *http.Client
	// Mirrors are tried in order; the first whose From prefixes the URL rewrites it.
	Mirrors []Mirror
	// Header is added to every request (e.g. Authorization for a private mirror).
	Header http.Header
}

// Resolve applies the first matching mirror to url.
func (f *Fetcher) Resolve(url string) string {
	for _, m := range f.Mirrors {
		if m.From != "" && m.To != "" && strings.HasPrefix(url, m.From) {
			return strings.TrimSuffix(m.To, "/") + "/" + strings.TrimPrefix(strings.TrimPrefix(url, m.From), "/")
		}
	}
	return url
}

// Get opens url (after mirror rewriting) for streaming; the caller closes the body.
func (f *Fetcher) Get(ctx context.Context, url string, header http.Header) (io.ReadCloser, error) {
	url = f.Resolve(url)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", url, err)
	}
	for k, vs := range f.Header {
		req.Header[k] = vs
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	c := f.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("download %s: HTTP %s", url, resp.Status)
	}
	return resp.Body, nil
}

// Download streams url into a new file under dir while hashing it, and returns the file's
// path only when the digest equals want. On a mismatch the file is removed and the error
// is a *ChecksumError: nothing unverified is ever extracted.
func (f *Fetcher) Download(ctx context.Context, url string, want Checksum, dir string) (string, error) {
	h, err := want.newHash()
	if err != nil {
		return "", fmt.Errorf("download %s: %w", url, err)
	}
	body, err := f.Get(ctx, url, nil)
	if err != nil {
		return "", err
	}
	defer body.Close()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("download %s: %w", url, err)
	}
	tmp, err := os.CreateTemp(dir, "download-*-"+path.Base(url))
	if err != nil {
		return "", fmt.Errorf("download %s: %w", url, err)
	}
	if _, err := io.Copy(io.MultiWriter(tmp, h), body); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return "", fmt.Errorf("download %s: %w", f.Resolve(url), err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("download %s: %w", url, err)
	}
	got := Checksum{Algorithm: want.Algorithm, Sum: h.Sum(nil)}
	if string(got.Sum) != string(want.Sum) {
		os.Remove(tmp.Name())
		return "", &ChecksumError{URL: f.Resolve(url), Expected: want.String(), Got: got.String()}
	}
	return tmp.Name(), nil
}

// ExtractTarGz extracts the gzip-compressed tar at file into dest, dropping the first strip
// path components. Entries that would land outside dest are refused. Regular files, dirs
// and symlinks are supported; other entry types are skipped.
func ExtractTarGz(file, dest string, strip int) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("extract %s: %w", file, err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("extract %s: %w", file, err)
	}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("extract %s: %w", file, err)
		}
		clean := strings.Trim(path.Clean("/"+hdr.Name), "/")
		if clean != strings.Trim(path.Clean(hdr.Name), "/") {
			return fmt.Errorf("extract %s: entry %q escapes the destination", file, hdr.Name)
		}
		parts := strings.Split(clean, "/")
		if len(parts) <= strip {
			continue
		}
		rel := filepath.Join(parts[strip:]...)
		if rel == "." || strings.HasPrefix(rel, "..") {
			return fmt.Errorf("extract %s: entry %q escapes the destination", file, hdr.Name)
		}
		target := filepath.Join(dest, rel)
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return fmt.Errorf("extract %s: %w", file, err)
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return fmt.Errorf("extract %s: %w", file, err)
			}
			mode := os.FileMode(0o644)
			if hdr.Mode&0o111 != 0 {
				mode = 0o755
			}
			out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
			if err != nil {
				return fmt.Errorf("extract %s: %w", file, err)
			}
			if _, err := io.Copy(out, tr); err != nil {
				out.Close()
				return fmt.Errorf("extract %s: %w", file, err)
			}
			if err := out.Close(); err != nil {
				return fmt.Errorf("extract %s: %w", file, err)
			}
		case tar.TypeSymlink:
			if filepath.IsAbs(hdr.Linkname) || strings.HasPrefix(filepath.Clean(filepath.Join(filepath.Dir(rel), hdr.Linkname)), "..") {
				return fmt.Errorf("extract %s: symlink %q → %q escapes the destination", file, hdr.Name, hdr.Linkname)
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return fmt.Errorf("extract %s: %w", file, err)
			}
			os.Remove(target)
			if err := os.Symlink(hdr.Linkname, target); err != nil {
				return fmt.Errorf("extract %s: %w", file, err)
			}
		}
	}
}
