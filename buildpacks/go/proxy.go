package golang

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// toolchainModule is the module the go command downloads toolchains as (GOTOOLCHAIN).
const toolchainModule = "golang.org/toolchain"

// proxySource installs Go the way GOTOOLCHAIN=goX.Y.Z does: the golang.org/toolchain module
// v0.0.1-goX.Y.Z.linux-<arch> from the module proxies in GOPROXY, its h1: hash checked
// against the checksum database before the zip is unpacked.
type proxySource struct {
	proxies []string // GOPROXY entries that are URLs, in order
	arch    string
	sumdb   checksumDB
	fetcher *sdk.Fetcher
	log     *sdk.Logger
	base    string // the proxy that answered Versions
}

// parseGOPROXY returns the URL entries of a GOPROXY list (',' or '|' separated); "direct"
// cannot serve golang.org/toolchain and "off" ends the list.
func parseGOPROXY(v string) []string {
	var out []string
	for _, p := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '|' }) {
		p = strings.TrimSpace(p)
		switch p {
		case "off":
			return out
		case "direct", "":
			continue
		}
		out = append(out, strings.TrimSuffix(p, "/"))
	}
	return out
}

func (s *proxySource) Name() string { return "module proxy " + s.base + " (" + toolchainModule + ")" }

func (s *proxySource) modVersion(v string) string { return "v0.0.1-" + v + ".linux-" + s.arch }

func (s *proxySource) Versions(ctx context.Context) ([]string, error) {
	if len(s.proxies) == 0 {
		return nil, fmt.Errorf("GOPROXY names no proxy")
	}
	var errs []string
	for _, p := range s.proxies {
		body, err := s.fetcher.Get(ctx, p+"/"+toolchainModule+"/@v/list", nil)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		b, err := io.ReadAll(io.LimitReader(body, 4<<20))
		body.Close()
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		s.base = p
		suffix := ".linux-" + s.arch
		var out []string
		for _, l := range strings.Fields(string(b)) {
			if v, ok := strings.CutPrefix(l, "v0.0.1-"); ok && strings.HasSuffix(v, suffix) {
				out = append(out, strings.TrimSuffix(v, suffix))
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
}

func (s *proxySource) Install(ctx context.Context, version, dir, tmp string) (string, error) {
	mod := module.Version{Path: toolchainModule, Version: s.modVersion(version)}
	url := s.base + "/" + toolchainModule + "/@v/" + mod.Version + ".zip"
	zipFile, err := s.download(ctx, url, tmp)
	if err != nil {
		return "", err
	}
	defer os.Remove(zipFile)
	got, err := dirhash.HashZip(zipFile, dirhash.Hash1)
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", url, err)
	}
	if err := s.sumdb.verify(ctx, mod, got, s.log); err != nil {
		return "", err
	}
	if err := modzip.Unzip(dir, mod, zipFile); err != nil {
		return "", fmt.Errorf("unpack %s: %w", url, err)
	}
	// Module zips carry no file modes; like the go command after a toolchain download, make
	// the commands executable.
	for _, sub := range []string{"bin", filepath.Join("pkg", "tool")} {
		root := filepath.Join(dir, sub)
		err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			return os.Chmod(p, 0o555)
		})
		if err != nil && !os.IsNotExist(err) {
			return "", fmt.Errorf("make %s executable: %w", root, err)
		}
	}
	if !exists(filepath.Join(dir, "bin", "go")) {
		return "", fmt.Errorf("%s has no bin/go", url)
	}
	return got, nil
}

func (s *proxySource) download(ctx context.Context, url, tmp string) (string, error) {
	body, err := s.fetcher.Get(ctx, url, nil)
	if err != nil {
		return "", err
	}
	defer body.Close()
	f, err := os.CreateTemp(tmp, "toolchain-*.zip")
	if err != nil {
		return "", fmt.Errorf("download %s: %w", url, err)
	}
	if _, err := io.Copy(f, body); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", fmt.Errorf("download %s: %w", url, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("download %s: %w", url, err)
	}
	return f.Name(), nil
}
