package golang

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// layerGo holds the toolchain: build and cache, never launch.
const layerGo = "go"

// errNoSource is wrapped by the error of a build where no toolchain source answered.
var errNoSource = errors.New("no toolchain source is reachable")

// sources lists the toolchain sources in the order the user configured.
func sources(ctx context.Context, cfg Config, arch string, fetcher *sdk.Fetcher, log *sdk.Logger) ([]Source, error) {
	var out []Source
	for _, name := range cfg.Sources {
		switch name {
		case "official":
			out = append(out, &officialSource{base: cfg.DownloadURL, arch: arch, fetcher: fetcher})
		case "proxy":
			proxies := parseGOPROXY(cfg.goEnv("GOPROXY"))
			if len(proxies) == 0 {
				log.Detail("module proxy source skipped: GOPROXY=%s names no proxy", cfg.goEnv("GOPROXY"))
				continue
			}
			db, err := newChecksumDB(ctx, cfg, proxies, fetcher)
			if err != nil {
				return nil, err
			}
			out = append(out, &proxySource{proxies: proxies, arch: arch, sumdb: db, fetcher: fetcher, log: log})
		}
	}
	return out, nil
}

// contributeToolchain resolves req against the first reachable source and installs that Go
// into the go layer, or reuses the layer when it already holds it.
func contributeToolchain(ctx context.Context, bc sdk.BuildContext, cfg Config, req Requirement, arch, tmp string, creds *credentials) (*sdk.Layer, string, error) {
	log := bc.Log
	lay, err := bc.Layers.Get(layerGo)
	if err != nil {
		return nil, "", err
	}
	cached, _ := lay.Metadata["version"].(string)
	usable := cached != "" && lay.Metadata["arch"] == arch && exists(filepath.Join(lay.Path, "bin", "go"))
	keep := func(v, how string) (*sdk.Layer, string, error) {
		log.Step("Reusing Go %s layer (%s)", strings.TrimPrefix(v, "go"), how)
		lay.Types = sdk.LayerTypes{Build: true, Cache: true}
		return lay, v, lay.Write()
	}
	// An exact version already in the layer needs no source at all (offline rebuilds).
	if req.Exact != "" && usable && cached == req.Exact {
		return keep(cached, req.From+" names it")
	}
	fetcher := newFetcher(creds)
	srcs, err := sources(ctx, cfg, arch, fetcher, log)
	if err != nil {
		return nil, "", err
	}
	var (
		src      Source
		versions []string
		failures []string
	)
	for _, s := range srcs {
		vs, err := s.Versions(ctx)
		if err != nil {
			log.Detail("%s: unreachable: %v", s.Name(), err)
			failures = append(failures, fmt.Sprintf("%s: %v", s.Name(), err))
			continue
		}
		src, versions = s, vs
		break
	}
	if src == nil {
		if usable && req.Satisfies(cached) {
			log.Warnf("no Go toolchain source is reachable; keeping the cached Go %s, which meets %s", strings.TrimPrefix(cached, "go"), req)
			return keep(cached, "offline")
		}
		return nil, "", fmt.Errorf("%w: %s. Set BP_GO_DOWNLOAD_URL to a mirror of the official downloads or GOPROXY to a module proxy that serves %s", errNoSource, strings.Join(failures, "; "), toolchainModule)
	}
	v, err := Resolve(req, versions)
	if err != nil {
		var nv *NoVersionError
		if errors.As(err, &nv) {
			nv.Source = src.Name()
		}
		return nil, "", err
	}
	log.Step("Go %s (%s) from %s", strings.TrimPrefix(v, "go"), req, src.Name())
	if usable && cached == v {
		return keep(v, "unchanged")
	}
	log.Step("Installing Go %s", strings.TrimPrefix(v, "go"))
	if err := lay.Reset(); err != nil {
		return nil, "", err
	}
	digest, err := src.Install(ctx, v, lay.Path, tmp)
	if err != nil {
		return nil, "", err
	}
	log.Detail("verified %s", digest)
	if err := lay.WriteCycloneDX([]sdk.Component{{Name: "go", Version: strings.TrimPrefix(v, "go"), PURL: "pkg:golang/std@" + v}}); err != nil {
		return nil, "", err
	}
	// Later buildpacks of the group find go on PATH; the layer never reaches the image.
	if err := lay.SharedEnv().Prepend("PATH", filepath.Join(lay.Path, "bin"), ":"); err != nil {
		return nil, "", err
	}
	lay.Metadata = map[string]any{"version": v, "arch": arch, "digest": digest}
	lay.Types = sdk.LayerTypes{Build: true, Cache: true}
	return lay, v, lay.Write()
}
