package debian

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/slipway/slipway/atomicfile"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"golang.org/x/sync/errgroup"

	"github.com/slipway/slipway/logging"
)

// Source is one apt repository: "deb [signed-by=Keyring] URL Suite Components...".
type Source struct {
	URL          string
	Suite        string
	Components   []string
	Architecture string // dpkg architecture name: amd64, arm64, …
	Keyring      string // path of the OpenPGP keyring that signs InRelease
}

// Client fetches from apt repositories. Downloads are kept in CacheDir by SHA256, so a
// file is fetched once per machine whatever its name or mirror.
type Client struct {
	HTTP     *http.Client // nil means http.DefaultClient
	CacheDir string
	Log      *logging.Logger
	// Now is the clock for signature and Valid-Until checks; nil means time.Now.
	Now func() time.Time
	// Parallel is the number of concurrent downloads; 0 means 4.
	Parallel int
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// Index fetches and verifies src's InRelease and reads the Packages index of each
// component for src.Architecture into idx (a new Index when idx is nil).
func (c *Client) Index(ctx context.Context, src Source, idx *Index) (*Index, error) {
	rel, err := c.Release(ctx, src)
	if err != nil {
		return nil, err
	}
	return c.IndexRelease(ctx, src, rel, idx)
}

// Release fetches src's InRelease and verifies its signature with src.Keyring: the
// signed table of contents every later download is checked against.
func (c *Client) Release(ctx context.Context, src Source) (*Release, error) {
	base := strings.TrimSuffix(src.URL, "/")
	keyring, err := ReadKeyring(src.Keyring)
	if err != nil {
		return nil, err
	}
	inURL := base + "/dists/" + src.Suite + "/InRelease"
	resp, err := c.get(ctx, inURL)
	if err != nil {
		return nil, err
	}
	data, err := readAllLimit(resp.Body, 64<<20)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", inURL, err)
	}
	return VerifyInRelease(data, keyring, inURL, src.Keyring, c.now())
}

// PackagesFiles returns, per component of src, the Packages index rel lists for
// src.Architecture (the compressed form to download) and the hash of its uncompressed
// form ("" size 0 when the release does not list it). Equal results mean equal indexes,
// which lets callers skip reading an index they resolved against before.
func PackagesFiles(src Source, rel *Release) (names []string, hashes []FileHash, plain []FileHash, err error) {
	for _, comp := range src.Components {
		dir := comp + "/binary-" + src.Architecture + "/"
		var name string
		var fh FileHash
		for _, n := range []string{"Packages.xz", "Packages.gz", "Packages"} {
			if h, ok := rel.Files[dir+n]; ok {
				name, fh = dir+n, h
				break
			}
		}
		if name == "" {
			return nil, nil, nil, fmt.Errorf("read %s/dists/%s/InRelease: no Packages index for component %q, architecture %q; check the components and architecture of the source", strings.TrimSuffix(src.URL, "/"), src.Suite, comp, src.Architecture)
		}
		names = append(names, name)
		hashes = append(hashes, fh)
		plain = append(plain, rel.Files[dir+"Packages"])
	}
	return names, hashes, plain, nil
}

// IndexRelease reads the Packages indexes rel lists for src into idx (a new Index when
// idx is nil). A compressed index is decompressed once into the cache, checked against
// the uncompressed hash the release lists, so later reads skip the (slow) xz decoding.
func (c *Client) IndexRelease(ctx context.Context, src Source, rel *Release, idx *Index) (*Index, error) {
	if idx == nil {
		idx = NewIndex()
	}
	base := strings.TrimSuffix(src.URL, "/")
	names, hashes, plain, err := PackagesFiles(src, rel)
	if err != nil {
		return nil, err
	}
	for i, name := range names {
		u := base + "/dists/" + src.Suite + "/" + name
		path, readName := "", name
		if p, ok := c.cached(plain[i], "packages"); ok && plain[i].SHA256 != "" {
			path, readName = p, "Packages"
		} else {
			if path, err = c.fetch(ctx, u, hashes[i], "index"); err != nil {
				return nil, err
			}
			if plain[i].SHA256 != "" && name != "Packages" {
				if p, err := c.decompressToCache(path, name, plain[i]); err == nil {
					path, readName = p, "Packages"
				} else {
					c.Log.Debugf("keep %s compressed: %v", u, err)
				}
			}
		}
		if err := idx.readFile(path, readName, base); err != nil {
			return nil, fmt.Errorf("read %s: %w", u, err)
		}
		c.Log.Debugf("read index %s", u)
	}
	return idx, nil
}

// decompressToCache writes the decompressed form of the cached index file to the cache
// under its uncompressed hash, verified like any download.
func (c *Client) decompressToCache(file, name string, want FileHash) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	r, err := Decompress(f, name)
	if err != nil {
		return "", err
	}
	defer r.Close()
	tmp, err := os.CreateTemp(c.CacheDir, ".decompress-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(r, want.Size+1))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want.SHA256 || n != want.Size {
		return "", &HashMismatchError{URL: file + " (decompressed)", Want: want.SHA256, Got: got, WantSize: want.Size, GotSize: n}
	}
	path := c.cachePath(want, "packages")
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", err
	}
	return path, nil
}

// Decompress wraps r according to the file name's compression suffix (.xz, .zst, .gz,
// or none).
func Decompress(r io.Reader, name string) (io.ReadCloser, error) {
	switch {
	case strings.HasSuffix(name, ".xz"):
		if xr, ok := externalXZ(r); ok {
			return xr, nil
		}
		xr, err := xz.NewReader(r)
		if err != nil {
			return nil, err
		}
		return io.NopCloser(xr), nil
	case strings.HasSuffix(name, ".zst"):
		zr, err := zstd.NewReader(r)
		if err != nil {
			return nil, err
		}
		return zr.IOReadCloser(), nil
	case strings.HasSuffix(name, ".gz"):
		return gzip.NewReader(r)
	case strings.HasSuffix(name, ".bz2"), strings.HasSuffix(name, ".lzma"):
		return nil, fmt.Errorf("unsupported compression of %s", name)
	}
	return io.NopCloser(r), nil
}

func (idx *Index) readFile(path, name, baseURL string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := Decompress(f, name)
	if err != nil {
		return err
	}
	defer r.Close()
	return ReadParagraphs(r, name, func(p Paragraph) error {
		pkg, err := packageFromIndex(p, baseURL)
		if err != nil {
			return err
		}
		idx.Add(pkg)
		return nil
	})
}

// Download fetches the .debs of pkgs into the cache, several at a time, and returns
// their cached paths in the order of pkgs. Every file is checked against the size and
// SHA256 of the index before it enters the cache; a mismatch is refused.
func (c *Client) Download(ctx context.Context, pkgs []*Package) ([]string, error) {
	paths := make([]string, len(pkgs))
	var todo []int
	var total, missing int64
	for i, p := range pkgs {
		total += p.Size
		if path, ok := c.cached(FileHash{SHA256: p.SHA256, Size: p.Size}, "deb"); ok {
			paths[i] = path
			continue
		}
		todo = append(todo, i)
		missing += p.Size
	}
	c.Log.Infof("Packages: %d (%s), %d cached, %d to download (%s)", len(pkgs), mb(total), len(pkgs)-len(todo), len(todo), mb(missing))
	if len(todo) == 0 {
		return paths, nil
	}
	g, ctx := errgroup.WithContext(ctx)
	n := c.Parallel
	if n <= 0 {
		n = 4
	}
	g.SetLimit(n)
	var mu sync.Mutex
	var done int
	var doneBytes int64
	for _, i := range todo {
		p := pkgs[i]
		g.Go(func() error {
			path, err := c.fetch(ctx, p.URL(), FileHash{SHA256: p.SHA256, Size: p.Size}, "deb")
			if err != nil {
				return fmt.Errorf("download %s %s: %w", p.Name, p.Version, err)
			}
			paths[i] = path
			mu.Lock()
			done++
			doneBytes += p.Size
			c.Log.Infof("  [%d/%d] %s %s (%s, %s of %s)", done, len(todo), p.Name, p.Version, mb(p.Size), mb(doneBytes), mb(missing))
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return paths, nil
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

func (c *Client) cachePath(h FileHash, kind string) string {
	return filepath.Join(c.CacheDir, h.SHA256+"."+kind)
}

func (c *Client) cached(h FileHash, kind string) (string, bool) {
	path := c.cachePath(h, kind)
	fi, err := os.Stat(path)
	return path, err == nil && fi.Size() == h.Size
}

// HashMismatchError is returned when downloaded bytes differ from what the signed index
// promises.
type HashMismatchError struct {
	URL       string
	Want, Got string
	WantSize  int64
	GotSize   int64
}

func (e *HashMismatchError) Error() string {
	return fmt.Sprintf("refusing %s: SHA256 %s, size %d do not match the signed index (SHA256 %s, size %d); the mirror is corrupt or tampered with", e.URL, e.Got, e.GotSize, e.Want, e.WantSize)
}

// fetch downloads u into the cache unless it is there, verifying size and SHA256 before
// the atomic rename that makes it visible.
func (c *Client) fetch(ctx context.Context, u string, h FileHash, kind string) (string, error) {
	if path, ok := c.cached(h, kind); ok {
		return path, nil
	}
	if err := os.MkdirAll(c.CacheDir, 0o755); err != nil {
		return "", fmt.Errorf("create download cache %s: %w", c.CacheDir, err)
	}
	resp, err := c.get(ctx, u)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	path := c.cachePath(h, kind)
	tmp, err := atomicfile.Create(path, 0o644)
	if err != nil {
		return "", fmt.Errorf("fetch %s: %w", u, err)
	}
	defer tmp.Abort()
	hash := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, hash), io.LimitReader(resp.Body, h.Size+1))
	if err != nil {
		return "", fmt.Errorf("fetch %s: %w", u, err)
	}
	if got := hex.EncodeToString(hash.Sum(nil)); got != h.SHA256 || n != h.Size {
		return "", &HashMismatchError{URL: u, Want: h.SHA256, Got: got, WantSize: h.Size, GotSize: n}
	}
	if err := tmp.Commit(); err != nil {
		return "", fmt.Errorf("fetch %s: %w", u, err)
	}
	return path, nil
}

// MirrorError is returned when a repository cannot be reached or answers with an error.
type MirrorError struct {
	URL    string
	Status string // HTTP status, empty for network errors
	Err    error
}

func (e *MirrorError) Error() string {
	if e.Status != "" {
		return fmt.Sprintf("fetch %s: server answered %s; check url and suite of the source in the stack config", e.URL, e.Status)
	}
	return fmt.Sprintf("fetch %s: mirror unreachable: %v; check the network and the source url in the stack config", e.URL, e.Err)
}

func (e *MirrorError) Unwrap() error { return e.Err }

func (c *Client) get(ctx context.Context, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", u, err)
	}
	var resp *http.Response
	// Two retries for transient network errors and 5xx: big downloads from public
	// mirrors do fail now and then.
	for attempt := 0; ; attempt++ {
		resp, err = c.http().Do(req)
		if err == nil && resp.StatusCode < 500 {
			break
		}
		if ctx.Err() != nil || attempt == 2 {
			break
		}
		if resp != nil {
			resp.Body.Close()
		}
		time.Sleep(time.Duration(attempt+1) * 500 * time.Millisecond)
	}
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, &MirrorError{URL: u, Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, &MirrorError{URL: u, Status: resp.Status}
	}
	return resp, nil
}

// externalXZ decodes with the system's xz when there is one: it is about ten times
// faster than the pure-Go decoder on Debian's 9 MB Packages.xz, and every caller checks
// the SHA256 of what comes out (or of the archive around it) anyway.
func externalXZ(r io.Reader) (io.ReadCloser, bool) {
	bin, err := exec.LookPath("xz")
	if err != nil {
		return nil, false
	}
	cmd := exec.Command(bin, "-dc")
	cmd.Stdin = r
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, false
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, false
	}
	return &xzProcess{ReadCloser: out, cmd: cmd, stderr: &stderr}, true
}

type xzProcess struct {
	io.ReadCloser
	cmd    *exec.Cmd
	stderr *strings.Builder
	waited bool
	err    error
}

func (x *xzProcess) Read(p []byte) (int, error) {
	n, err := x.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) && !x.waited {
		x.waited = true
		if werr := x.cmd.Wait(); werr != nil {
			x.err = fmt.Errorf("xz -dc: %v: %s", werr, strings.TrimSpace(x.stderr.String()))
		}
	}
	if errors.Is(err, io.EOF) && x.err != nil {
		return n, x.err
	}
	return n, err
}

func (x *xzProcess) Close() error {
	if !x.waited {
		x.waited = true
		x.ReadCloser.Close()
		x.cmd.Process.Kill()
		x.cmd.Wait()
	}
	return nil
}
