package golang

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// Source is where Go toolchains come from.
type Source interface {
	// Name says which source this is, for the log line naming the one that won.
	Name() string
	// Versions lists the toolchains for the target ("go1.26.8"); an error means the source
	// is unreachable and the next one is tried.
	Versions(ctx context.Context) ([]string, error)
	// Install downloads version, verifies it and unpacks it into dir (GOROOT: dir/bin/go).
	// It returns what identifies the verified bytes (a digest).
	Install(ctx context.Context, version, dir, tmp string) (string, error)
}

// newFetcher is an HTTP client that gives up on an unreachable source quickly, so the next
// source is tried, but lets a large download take its time. It honours HTTP(S)_PROXY and
// sends the netrc logins of creds.
func newFetcher(creds *credentials) *sdk.Fetcher {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 15 * time.Second}).DialContext,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &sdk.Fetcher{Client: &http.Client{Transport: creds.wrap(tr)}}
}

// officialSource reads the official download index (<base>/?mode=json&include=all), downloads
// <base>/<file> and verifies it against the index's SHA-256 before extracting.
type officialSource struct {
	base    string
	arch    string
	fetcher *sdk.Fetcher
	files   map[string]officialFile
}

type officialFile struct {
	Filename string `json:"filename"`
	OS       string `json:"os"`
	Arch     string `json:"arch"`
	Version  string `json:"version"`
	SHA256   string `json:"sha256"`
	Kind     string `json:"kind"`
}

func (s *officialSource) Name() string { return "official downloads " + s.base }

func (s *officialSource) Versions(ctx context.Context) ([]string, error) {
	url := s.base + "/?mode=json&include=all"
	body, err := s.fetcher.Get(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	var index []struct {
		Version string         `json:"version"`
		Files   []officialFile `json:"files"`
	}
	if err := json.NewDecoder(body).Decode(&index); err != nil {
		return nil, fmt.Errorf("read %s: %w", url, err)
	}
	s.files = map[string]officialFile{}
	var out []string
	for _, r := range index {
		for _, f := range r.Files {
			if f.OS == "linux" && f.Arch == s.arch && f.Kind == "archive" {
				s.files[r.Version] = f
				out = append(out, r.Version)
			}
		}
	}
	return out, nil
}

func (s *officialSource) Install(ctx context.Context, version, dir, tmp string) (string, error) {
	f, ok := s.files[version]
	if !ok {
		return "", fmt.Errorf("%s lists no linux-%s archive of %s", s.base, s.arch, version)
	}
	sum, err := sdk.SHA256Hex(f.SHA256)
	if err != nil {
		return "", fmt.Errorf("%s: %s: %w; refusing to install an unverified download", s.base, f.Filename, err)
	}
	tgz, err := s.fetcher.Download(ctx, s.base+"/"+f.Filename, sum, tmp)
	if err != nil {
		return "", err
	}
	defer os.Remove(tgz)
	if err := sdk.ExtractTarGz(tgz, dir, 1); err != nil {
		return "", err
	}
	if !exists(filepath.Join(dir, "bin", "go")) {
		return "", fmt.Errorf("%s has no go/bin/go", f.Filename)
	}
	return sum.String(), nil
}
