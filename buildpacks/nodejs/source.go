package nodejs

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// Source is where Node.js comes from: the official distribution or the npm registry.
type Source interface {
	// Name is the BP_NODE_SOURCE value.
	Name() string
	// Releases lists installable versions for the target.
	Releases(ctx context.Context) ([]Release, error)
	// Install downloads and verifies version, then extracts it into dir (bin/node at
	// dir/bin/node). It returns a string identifying the verified artifact (its digest).
	Install(ctx context.Context, v *semver.Version, dir, tmp string) (string, error)
}

// DefaultOfficialBase is the official distribution, replaced by BP_NODE_MIRROR.
const DefaultOfficialBase = "https://nodejs.org/dist"

// officialSource reads <base>/index.json, downloads
// <base>/v<V>/node-v<V>-linux-<arch>.tar.gz and verifies it against <base>/v<V>/SHASUMS256.txt.
type officialSource struct {
	base    string
	arch    string // x64, arm64
	fetcher *sdk.Fetcher
}

func (s officialSource) Name() string { return "official" }

func (s officialSource) Releases(ctx context.Context) ([]Release, error) {
	url := strings.TrimSuffix(s.base, "/") + "/index.json"
	body, err := s.fetcher.Get(ctx, url, nil)
	if err != nil {
		return nil, fmt.Errorf("list Node.js releases (set BP_NODE_MIRROR, or BP_NODE_SOURCE=npm to use the npm registry): %w", err)
	}
	defer body.Close()
	var index []struct {
		Version string   `json:"version"`
		LTS     any      `json:"lts"` // false or a codename
		Files   []string `json:"files"`
	}
	if err := json.NewDecoder(body).Decode(&index); err != nil {
		return nil, fmt.Errorf("read %s: %w", url, err)
	}
	var out []Release
	for _, e := range index {
		v, err := semver.NewVersion(e.Version)
		if err != nil {
			continue
		}
		found := false
		for _, f := range e.Files {
			if f == "linux-"+s.arch {
				found = true
			}
		}
		if !found {
			continue
		}
		r := Release{Version: v}
		if name, ok := e.LTS.(string); ok {
			r.LTS = name
		}
		out = append(out, r)
	}
	return out, nil
}

func (s officialSource) Install(ctx context.Context, v *semver.Version, dir, tmp string) (string, error) {
	base := fmt.Sprintf("%s/v%s/", strings.TrimSuffix(s.base, "/"), v)
	file := fmt.Sprintf("node-v%s-linux-%s.tar.gz", v, s.arch)
	sum, err := s.shasum(ctx, base+"SHASUMS256.txt", file)
	if err != nil {
		return "", err
	}
	tgz, err := s.fetcher.Download(ctx, base+file, sum, tmp)
	if err != nil {
		return "", err
	}
	defer os.Remove(tgz)
	if err := sdk.ExtractTarGz(tgz, dir, 1); err != nil {
		return "", err
	}
	return sum.String(), nil
}

func (s officialSource) shasum(ctx context.Context, url, file string) (sdk.Checksum, error) {
	body, err := s.fetcher.Get(ctx, url, nil)
	if err != nil {
		return sdk.Checksum{}, err
	}
	defer body.Close()
	sc := bufio.NewScanner(body)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[1] == file {
			return sdk.SHA256Hex(f[0])
		}
	}
	if err := sc.Err(); err != nil {
		return sdk.Checksum{}, fmt.Errorf("read %s: %w", url, err)
	}
	return sdk.Checksum{}, fmt.Errorf("%s has no checksum for %s; refusing to install an unverified download", url, file)
}

// npmSource installs the node-linux-<arch> package of an npm registry: its tarball holds
// package/bin/node (no npm, no corepack), verified against dist.integrity.
type npmSource struct {
	reg  registry
	arch string
}

func (s npmSource) Name() string { return "npm" }

func (s npmSource) pkg() string { return "node-linux-" + s.arch }

func (s npmSource) Releases(ctx context.Context) ([]Release, error) {
	p, err := s.reg.packument(ctx, s.pkg())
	if err != nil {
		return nil, err
	}
	var out []Release
	for k := range p.Versions {
		if v, err := semver.NewVersion(k); err == nil {
			out = append(out, Release{Version: v})
		}
	}
	return out, nil
}

func (s npmSource) Install(ctx context.Context, v *semver.Version, dir, tmp string) (string, error) {
	p, err := s.reg.packument(ctx, s.pkg())
	if err != nil {
		return "", err
	}
	pv, ok := p.Versions[v.Original()]
	if !ok {
		return "", fmt.Errorf("registry %s has no %s@%s", s.reg.base, s.pkg(), v)
	}
	return installPackage(ctx, s.reg, s.pkg(), pv, dir, tmp)
}

// installPackage downloads a registry tarball, verifies dist.integrity before extraction
// and extracts its package/ directory into dir.
func installPackage(ctx context.Context, reg registry, name string, pv packageVersion, dir, tmp string) (string, error) {
	sum, err := sdk.ParseSRI(pv.Dist.Integrity)
	if err != nil {
		return "", fmt.Errorf("%s@%s: %w; refusing to install an unverified download", name, pv.Version, err)
	}
	tgz, err := reg.fetcher.Download(ctx, reg.tarballURL(pv), sum, tmp)
	if err != nil {
		return "", err
	}
	defer os.Remove(tgz)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("install %s: %w", name, err)
	}
	if err := sdk.ExtractTarGz(tgz, dir, 1); err != nil {
		return "", err
	}
	return pv.Dist.Integrity, nil
}

// installTool installs the newest version of an npm-registry tool (npm, corepack) within
// constraint whose engines.node accepts node into <layer>/lib/node_modules/<name> and links
// <layer>/bin/<bin> → its entry point, as the official tarball lays them out.
func installTool(ctx context.Context, reg registry, name, constraint string, node *semver.Version, layer, tmp string, bins map[string]string) (string, error) {
	var c *semver.Constraints
	if constraint != "" && constraint != "latest" {
		var err error
		if c, err = semver.NewConstraint(constraint); err != nil {
			return "", fmt.Errorf("parse %s version %q: %w", name, constraint, err)
		}
	}
	p, err := reg.packument(ctx, name)
	if err != nil {
		return "", err
	}
	pv, ok := p.newestMatching(c, node)
	if !ok {
		return "", fmt.Errorf("no %s version matches %q and supports Node.js %s", name, constraint, node)
	}
	dest := filepath.Join(layer, "lib", "node_modules", name)
	if err := os.RemoveAll(dest); err != nil {
		return "", fmt.Errorf("install %s: %w", name, err)
	}
	if _, err := installPackage(ctx, reg, name, pv, dest, tmp); err != nil {
		return "", err
	}
	for bin, target := range bins {
		link := filepath.Join(layer, "bin", bin)
		os.Remove(link)
		if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
			return "", err
		}
		if err := os.Symlink(filepath.Join("..", "lib", "node_modules", name, target), link); err != nil {
			return "", fmt.Errorf("link %s: %w", link, err)
		}
	}
	return pv.Version, nil
}

// sources is the ordered list of places Node.js is tried from: BP_NODE_SOURCE pins one,
// otherwise the official distribution first and the npm registry's node-linux-<arch>
// package second — the same releases, both verified.
func sources(cfg Config, arch string, fetcher *sdk.Fetcher, reg registry) []Source {
	official := officialSource{base: cfg.Mirror, arch: arch, fetcher: fetcher}
	npm := npmSource{reg: reg, arch: arch}
	switch cfg.Source {
	case "official":
		return []Source{official}
	case "npm":
		return []Source{npm}
	}
	return []Source{official, npm}
}

// chosenNode is the Node.js release picked from one source.
type chosenNode struct {
	src      Source
	releases []Release
	version  *semver.Version
}

// skipNote explains why a source of the chain was not used.
type skipNote struct {
	src    string
	reason error
}

// resolveFrom walks the chain: the first source that lists a release satisfying req wins.
// A source that cannot be reached or has no such release is skipped with a note; with a
// single (pinned) source its error is returned as is.
func resolveFrom(ctx context.Context, chain []Source, req Requirement, skipped *[]skipNote) (chosenNode, error) {
	var last error
	for _, src := range chain {
		rels, err := src.Releases(ctx)
		if err == nil {
			var v *semver.Version
			if v, err = Resolve(req, rels); err == nil {
				return chosenNode{src: src, releases: rels, version: v}, nil
			}
		}
		if len(chain) == 1 {
			return chosenNode{}, err
		}
		*skipped = append(*skipped, skipNote{src: src.Name(), reason: err})
		last = err
	}
	return chosenNode{}, fmt.Errorf("no Node.js source could provide %q (from %s): %s; set BP_NODE_MIRROR or BP_NPM_REGISTRY to a reachable mirror: %w",
		req.Constraint, req.Source, describeSkips(*skipped), last)
}

func describeSkips(s []skipNote) string {
	var parts []string
	for _, n := range s {
		parts = append(parts, n.src+": "+n.reason.Error())
	}
	return strings.Join(parts, "; ")
}

// sourcesAfter returns the sources that follow src in chain.
func sourcesAfter(chain []Source, src Source) []Source {
	for i, s := range chain {
		if s.Name() == src.Name() {
			return chain[i+1:]
		}
	}
	return nil
}
