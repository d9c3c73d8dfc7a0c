package nodejs

import (
	"context"
	"encoding/base64"
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
	Version string  `json:"version"`
	Engines engines `json:"engines"`
	// Bin is a path or a map of command name → path (package.json "bin").
	Bin  json.RawMessage `json:"bin"`
	Dist struct {
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

// engines is an "engines" field. Old packages publish it as an array or with non-string
// values; those entries are ignored rather than failing the whole packument.
type engines map[string]string

func (e *engines) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if json.Unmarshal(b, &raw) != nil {
		*e = nil
		return nil
	}
	*e = engines{}
	for k, v := range raw {
		var s string
		if json.Unmarshal(v, &s) == nil {
			(*e)[k] = s
		}
	}
	return nil
}

// bins lists the package's commands (name → path inside the package); a string "bin" is
// named after the package.
func (v packageVersion) bins(pkg string) map[string]string {
	var m map[string]string
	if json.Unmarshal(v.Bin, &m) == nil && len(m) > 0 {
		return m
	}
	var one string
	if json.Unmarshal(v.Bin, &one) == nil && one != "" {
		return map[string]string{pkg: one}
	}
	return nil
}

// newestMatching returns the highest stable version of p within constraint (nil: any) whose
// engines.node accepts node (nil: no check).
func (p *packument) newestMatching(constraint *semver.Constraints, node *semver.Version) (packageVersion, bool) {
	var cs []*semver.Constraints
	if constraint != nil {
		cs = append(cs, constraint)
	}
	return p.newestMatchingAll(cs, node)
}

// newestMatchingAll is newestMatching for a version that must satisfy every constraint.
func (p *packument) newestMatchingAll(constraints []*semver.Constraints, node *semver.Version) (packageVersion, bool) {
	var vs []*semver.Version
	for s := range p.Versions {
		v, err := semver.NewVersion(s)
		if err != nil || v.Prerelease() != "" {
			continue
		}
		vs = append(vs, v)
	}
	sort.Sort(sort.Reverse(semver.Collection(vs)))
next:
	for _, v := range vs {
		for _, c := range constraints {
			if !c.Check(v) {
				continue next
			}
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

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
