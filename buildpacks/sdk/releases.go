package sdk

import (
	"context"
	"strings"
)

// Releases are the releases of a language runtime the apt repositories offer. Debian
// packages a runtime as one package a major.minor series (ruby3.1, php8.2-cli,
// python3.11) whose version is that series' upstream release, so there is one release
// a series.
type Releases struct {
	Versions []Version
	// key and list are what a layer keeps so that the next build, against unchanged
	// repositories, lists the releases without reading the indexes.
	key, list string
}

// Releases lists the runtime releases the repositories offer: the series packages
// series(major, minor) names, for each of majors and minor 0 to 39. memo (nil for none) is
// the layer whose restored metadata may hold the list the last build made under the
// same RepositoryKey; Remember stores it there again.
func (a *Apt) Releases(ctx context.Context, memo *Layer, series func(major, minor int) string, majors ...int) (Releases, error) {
	key, err := a.RepositoryKey(ctx)
	if err != nil {
		return Releases{}, err
	}
	r := Releases{key: key}
	if memo != nil && memo.Metadata["apt-repositories"] == key {
		if list, ok := memo.Metadata["apt-versions"].(string); ok && list != "" {
			r.list = list
			for _, f := range strings.Fields(list) {
				if v, ok := DebianUpstream(f); ok {
					r.Versions = append(r.Versions, v)
				}
			}
			return r, nil
		}
	}
	idx, err := a.Index(ctx)
	if err != nil {
		return Releases{}, err
	}
	var list []string
	for _, major := range majors {
		for minor := 0; minor < 40; minor++ {
			p, ok := idx.Lookup(series(major, minor))
			if !ok {
				continue
			}
			if v, ok := DebianUpstream(p.Version); ok {
				r.Versions = append(r.Versions, v)
				list = append(list, v.String())
			}
		}
	}
	r.list = strings.Join(list, " ")
	return r, nil
}

// Remember keeps the list in lay's metadata for the next build. Call it after the
// install into lay (Apt.Install replaces a layer's metadata) and before lay.Write.
func (r Releases) Remember(lay *Layer) {
	lay.Metadata["apt-repositories"], lay.Metadata["apt-versions"] = r.key, r.list
}
