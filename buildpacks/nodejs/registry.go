package nodejs

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// DefaultNPMRegistry is used unless BP_NPM_REGISTRY names another one.
const DefaultNPMRegistry = "https://registry.npmjs.org"

// registry reads package metadata from an npm registry.
type registry struct {
	base    string
	fetcher *sdk.Fetcher
}

// packageVersion is one version of an abbreviated packument.
type packageVersion struct {
	Version string            `json:"version"`
	Engines map[string]string `json:"engines"`
	Dist    struct {
		Tarball   string `json:"tarball"`
		Integrity string `json:"integrity"`
		Shasum    string `json:"shasum"`
	} `json:"dist"`
}

type packument struct {
	DistTags map[string]string         `json:"dist-tags"`
	Versions map[string]packageVersion `json:"versions"`
}

// packument fetches the abbreviated metadata of name (the form npm itself installs from).
func (r registry) packument(ctx context.Context, name string) (*packument, error) {
	url := strings.TrimSuffix(r.base, "/") + "/" + strings.ReplaceAll(name, "/", "%2f")
	body, err := r.fetcher.Get(ctx, url, http.Header{"Accept": {"application/vnd.npm.install-v1+json"}})
	if err != nil {
		return nil, fmt.Errorf("read package %s from registry %s (set BP_NPM_REGISTRY to a reachable registry): %w", name, r.base, err)
	}
	defer body.Close()
	var p packument
	if err := json.NewDecoder(body).Decode(&p); err != nil {
		return nil, fmt.Errorf("read package %s from registry %s: %w", name, r.base, err)
	}
	return &p, nil
}

// tarballURL points a tarball URL that names the public registry at this registry: mirrors
// often serve packuments that keep the upstream host in dist.tarball.
func (r registry) tarballURL(v packageVersion) string {
	u := v.Dist.Tarball
	if rest, ok := strings.CutPrefix(u, DefaultNPMRegistry+"/"); ok {
		return strings.TrimSuffix(r.base, "/") + "/" + rest
	}
	return u
}

// newestMatching returns the highest stable version of p within constraint (nil: any) whose
// engines.node accepts node (nil: no check).
func (p *packument) newestMatching(constraint *semver.Constraints, node *semver.Version) (packageVersion, bool) {
	var vs []*semver.Version
	for s := range p.Versions {
		v, err := semver.NewVersion(s)
		if err != nil || v.Prerelease() != "" {
			continue
		}
		vs = append(vs, v)
	}
	sort.Sort(sort.Reverse(semver.Collection(vs)))
	for _, v := range vs {
		if constraint != nil && !constraint.Check(v) {
			continue
		}
		pv := p.Versions[v.Original()]
		if node != nil {
			if e := pv.Engines["node"]; e != "" {
				c, err := semver.NewConstraint(e)
				if err == nil && !c.Check(node) {
					continue
				}
			}
		}
		return pv, true
	}
	return packageVersion{}, false
}
