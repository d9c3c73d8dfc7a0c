package java

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// DefaultAdoptiumURL is the Adoptium API (api.adoptium.net, API v3).
const DefaultAdoptiumURL = "https://api.adoptium.net"

// adoptiumSource installs Eclipse Temurin builds found through an Adoptium-API server
// (the public one or a mirror speaking the same API): /v3/info/available_releases
// lists the majors, /v3/assets/feature_releases/<major>/ga the newest GA build with its
// package link and SHA-256, which the download must match before anything is extracted.
type adoptiumSource struct {
	base    string
	fetcher *sdk.Fetcher
	arch    string // Adoptium's architecture name (x64, aarch64)
}

func newAdoptium(base string, client *http.Client) *adoptiumSource {
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Minute}
	}
	arch := map[string]string{"amd64": "x64", "arm64": "aarch64"}[runtime.GOARCH]
	return &adoptiumSource{base: strings.TrimSuffix(base, "/"), fetcher: &sdk.Fetcher{Client: client}, arch: arch}
}

func (a *adoptiumSource) Name() string { return "adoptium (" + a.base + ")" }

func (a *adoptiumSource) getJSON(ctx context.Context, u string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	body, err := a.fetcher.Get(ctx, u, http.Header{"Accept": {"application/json"}})
	if err != nil {
		return err
	}
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, 16<<20))
	if err != nil {
		return fmt.Errorf("read %s: %w", u, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("read %s: not Adoptium API JSON: %w", u, err)
	}
	return nil
}

func (a *adoptiumSource) Offered(ctx context.Context) ([]int, error) {
	var r struct {
		Available []int `json:"available_releases"`
	}
	if err := a.getJSON(ctx, a.base+"/v3/info/available_releases", &r); err != nil {
		return nil, err
	}
	return r.Available, nil
}

// adoptiumRelease is the part of /v3/assets/feature_releases the buildpack reads.
type adoptiumRelease struct {
	ReleaseName string `json:"release_name"`
	Binaries    []struct {
		ImageType string `json:"image_type"`
		Package   struct {
			Name     string `json:"name"`
			Link     string `json:"link"`
			Checksum string `json:"checksum"`
		} `json:"package"`
	} `json:"binaries"`
}

func (a *adoptiumSource) release(ctx context.Context, major int, imageType string) (*adoptiumRelease, error) {
	q := url.Values{"architecture": {a.arch}, "heap_size": {"normal"}, "image_type": {imageType}, "jvm_impl": {"hotspot"},
		"os": {"linux"}, "page_size": {"1"}, "project": {"jdk"}, "sort_order": {"DESC"}, "vendor": {"eclipse"}}
	var rs []adoptiumRelease
	u := a.base + "/v3/assets/feature_releases/" + strconv.Itoa(major) + "/ga?" + q.Encode()
	if err := a.getJSON(ctx, u, &rs); err != nil {
		return nil, err
	}
	if len(rs) == 0 || len(rs[0].Binaries) == 0 {
		return nil, nil
	}
	return &rs[0], nil
}

func (a *adoptiumSource) Install(ctx context.Context, lay *sdk.Layer, major int, jdk bool, types sdk.LayerTypes) (string, bool, error) {
	imageType := "jre"
	if jdk {
		imageType = "jdk"
	}
	rel, err := a.release(ctx, major, imageType)
	if err == nil && rel == nil && !jdk {
		// Not every build has a JRE; the JDK runs the app as well.
		imageType = "jdk"
		rel, err = a.release(ctx, major, imageType)
	}
	if err != nil {
		return "", false, err
	}
	if rel == nil {
		return "", false, fmt.Errorf("%s lists Java %d but has no GA %s build for linux/%s", a.Name(), major, imageType, a.arch)
	}
	pkg := rel.Binaries[0].Package
	sum, err := sdk.SHA256Hex(pkg.Checksum)
	if err != nil {
		return "", false, fmt.Errorf("%s %s: %w", a.Name(), rel.ReleaseName, err)
	}
	home := filepath.Join(lay.Path, "java")
	want := map[string]any{"source": "adoptium", "release": rel.ReleaseName, "image": imageType, "sha256": pkg.Checksum}
	if lay.MetadataMatches(want) {
		lay.Types = types
		return home, true, lay.Write()
	}
	tmp, err := os.MkdirTemp("", "slipway-adoptium-")
	if err != nil {
		return "", false, err
	}
	defer os.RemoveAll(tmp)
	file, err := a.fetcher.Download(ctx, pkg.Link, sum, tmp)
	if err != nil {
		return "", false, err
	}
	if err := lay.Reset(); err != nil {
		return "", false, err
	}
	if err := sdk.ExtractTarGz(file, home, 1); err != nil {
		return "", false, err
	}
	if !exists(filepath.Join(home, "bin", "java")) {
		return "", false, fmt.Errorf("%s from %s has no bin/java under its top directory", pkg.Name, a.Name())
	}
	lay.Metadata = want
	lay.Types = types
	if err := lay.WriteCycloneDX([]sdk.Component{{Name: "temurin-" + imageType, Version: rel.ReleaseName,
		PURL: "pkg:generic/temurin@" + url.PathEscape(rel.ReleaseName), Hashes: map[string]string{"SHA-256": pkg.Checksum}}}); err != nil {
		return "", false, err
	}
	return home, false, lay.Write()
}
