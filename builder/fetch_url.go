package builder

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/slipway/slipway/atomicfile"
	"github.com/slipway/slipway/buildpack"
)

// Buildpacks named by URL — an http(s) archive (.tgz, .tar, .zip, .cnb) or a git repository
// (git://, git+https://…, any URL ending in .git; #ref picks a branch, tag or commit) — are
// fetched once into a cache directory and laid out from there. Heroku and Cloud Foundry
// users name their classic buildpacks this way (`heroku buildpacks:add URL`, `cf push -b
// URL`).

// IsRemoteURI reports whether uri names a buildpack to fetch over the network.
func IsRemoteURI(uri string) bool {
	if _, _, ok := gitURL(uri); ok {
		return true
	}
	return strings.HasPrefix(uri, "https://") || strings.HasPrefix(uri, "http://")
}

// DefaultFetchCacheDir is where fetched buildpacks are kept when the caller names no
// directory: $XDG_CACHE_HOME/slipway/buildpacks.
func DefaultFetchCacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "slipway", "buildpacks")
}

// LayoutBuildpackURI fetches the buildpack at uri into cacheDir (once per content: an
// unchanged archive is not downloaded again, a git commit not fetched again) and lays it
// out under destBuildpacksDir, returning its descriptors like LayoutBuildpackPath.
func LayoutBuildpackURI(ctx context.Context, uri, cacheDir, destBuildpacksDir string) ([]*buildpack.Descriptor, error) {
	if cacheDir == "" {
		cacheDir = DefaultFetchCacheDir()
	}
	if repo, ref, ok := gitURL(uri); ok {
		tree, commit, err := fetchGit(ctx, repo, ref, filepath.Join(cacheDir, "git"))
		if err != nil {
			return nil, err
		}
		if buildpack.IsClassicDir(tree) {
			version := ref
			if version == "" {
				version = commit[:12]
			}
			d, err := layoutClassicDir(ctx, tree, destBuildpacksDir, classicOrigin{source: uri, ref: version, digest: commit})
			if err != nil {
				return nil, err
			}
			return []*buildpack.Descriptor{d}, nil
		}
		return LayoutBuildpackPath(ctx, tree, destBuildpacksDir)
	}
	file, err := download(ctx, uri, filepath.Join(cacheDir, "http"))
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(destBuildpacksDir, 0o755); err != nil {
		return nil, fmt.Errorf("buildpack %s: %w", uri, err)
	}
	if isCNB, _ := isOCILayoutTar(file); isCNB {
		return LayoutBuildpackageFile(ctx, file, destBuildpacksDir)
	}
	d, err := layoutArchiveFrom(ctx, file, uri, destBuildpacksDir)
	if err != nil {
		return nil, fmt.Errorf("buildpack %s: %w", uri, err)
	}
	return []*buildpack.Descriptor{d}, nil
}

// gitURL splits a git buildpack URL into repository and ref (after '#', may be empty).
func gitURL(uri string) (repo, ref string, ok bool) {
	repo, ref, _ = strings.Cut(uri, "#")
	if r, found := strings.CutPrefix(repo, "git+"); found {
		return r, ref, true
	}
	u, err := url.Parse(repo)
	if err != nil || u.Scheme == "" {
		return "", "", false
	}
	switch u.Scheme {
	case "git", "ssh":
		return repo, ref, true
	case "http", "https", "file":
		return repo, ref, strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), ".git")
	}
	return "", "", false
}

// downloadMeta is kept beside a downloaded archive for conditional requests.
type downloadMeta struct {
	URL          string `json:"url"`
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
}

// download fetches uri into dir (named by the URL's hash) and returns the file. A copy from
// an earlier build is revalidated with If-None-Match / If-Modified-Since and kept when the
// server answers 304 Not Modified.
func download(ctx context.Context, uri, dir string) (string, error) {
	target, _, _ := strings.Cut(uri, "#")
	sum := sha256.Sum256([]byte(target))
	file := filepath.Join(dir, hex.EncodeToString(sum[:]))
	metaPath := file + ".json"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("fetch buildpack %s: %w", uri, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return "", fmt.Errorf("fetch buildpack %s: %w", uri, err)
	}
	var meta downloadMeta
	if _, err := os.Stat(file); err == nil {
		if b, err := os.ReadFile(metaPath); err == nil && json.Unmarshal(b, &meta) == nil {
			if meta.ETag != "" {
				req.Header.Set("If-None-Match", meta.ETag)
			}
			if meta.LastModified != "" {
				req.Header.Set("If-Modified-Since", meta.LastModified)
			}
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("fetch buildpack %s: %w; check the URL and that this machine can reach it (proxy settings: HTTPS_PROXY), or download the archive yourself and pass its path", uri, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified && (meta.ETag != "" || meta.LastModified != ""):
		return file, nil
	case resp.StatusCode != http.StatusOK:
		return "", fmt.Errorf("fetch buildpack %s: the server answered %s; check the URL (a .tgz, .tar, .zip or .cnb file, or a git repository URL ending in .git)", uri, resp.Status)
	}
	err = atomicfile.WriteFrom(file, 0o644, func(w io.Writer) error {
		_, err := io.Copy(w, resp.Body)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("fetch buildpack %s: download failed: %w; try again", uri, err)
	}
	meta = downloadMeta{URL: target, ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")}
	if b, err := json.Marshal(meta); err == nil {
		// Best effort: without it the next build downloads again, nothing worse.
		if err := atomicfile.Write(metaPath, b, 0o644); err != nil && !errors.Is(err, fs.ErrPermission) {
			return "", fmt.Errorf("fetch buildpack %s: %w", uri, err)
		}
	}
	return file, nil
}
