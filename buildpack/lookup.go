package buildpack

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Lookup finds buildpack descriptors under a buildpacks directory laid out as
// <dir>/<escaped-id>/<version>/buildpack.toml (platform.md, Usage (default locations); platform.md, Buildpacks Directory Layout). Each descriptor is
// read at most once; the zero value is not usable, build one with NewLookup. It is safe for
// concurrent use.
type Lookup struct {
	dir   string
	mu    sync.Mutex
	cache map[string]lookupEntry // key: id@version as resolved
}

type lookupEntry struct {
	desc *Descriptor
	err  error
}

// NewLookup returns a caching Lookup over buildpacksDir.
func NewLookup(buildpacksDir string) *Lookup {
	return &Lookup{dir: buildpacksDir, cache: map[string]lookupEntry{}}
}

// Find returns the descriptor of id@version. An empty version is accepted when exactly one
// version of id is installed (order.toml may omit versions).
func (l *Lookup) Find(id, version string) (*Descriptor, error) {
	// id and version come from order.toml and group.toml and become a path.
	if err := ValidateRef(id, version); err != nil {
		return nil, fmt.Errorf("find buildpack: %w", err)
	}
	if version == "" {
		v, err := onlyVersion(l.dir, id)
		if err != nil {
			return nil, err
		}
		version = v
	}
	key := id + "@" + version
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.cache[key]; ok {
		return e.desc, e.err
	}
	d, err := readVersion(l.dir, id, version)
	l.cache[key] = lookupEntry{d, err}
	return d, err
}

// FindDescriptor is Find without a cache, for one-off look-ups.
func FindDescriptor(buildpacksDir, id, version string) (*Descriptor, error) {
	return NewLookup(buildpacksDir).Find(id, version)
}

func readVersion(dir, id, version string) (*Descriptor, error) {
	bpDir := filepath.Join(dir, EscapedID(id), version)
	if _, err := os.Stat(filepath.Join(bpDir, "buildpack.toml")); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("find buildpack %s@%s: %s does not exist; is the buildpack installed in %s?",
			id, version, filepath.Join(bpDir, "buildpack.toml"), dir)
	}
	d, err := ReadDescriptor(bpDir)
	if err != nil {
		return nil, fmt.Errorf("read buildpack %s@%s: %w", id, version, err)
	}
	// The directory name is only a convention; the descriptor is the truth and must agree.
	if d.Buildpack.ID != id || d.Buildpack.Version != version {
		return nil, fmt.Errorf("read buildpack %s@%s: %s declares %s; fix the descriptor or move it to %s",
			id, version, filepath.Join(bpDir, "buildpack.toml"), d.Ref(),
			filepath.Join(dir, EscapedID(d.Buildpack.ID), d.Buildpack.Version))
	}
	return d, nil
}

// onlyVersion returns the single installed version of id, or an error listing them.
func onlyVersion(dir, id string) (string, error) {
	idDir := filepath.Join(dir, EscapedID(id))
	ents, err := os.ReadDir(idDir)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("find buildpack %s: %s does not exist; is the buildpack installed in %s?", id, idDir, dir)
	}
	if err != nil {
		return "", fmt.Errorf("find buildpack %s: %w", id, err)
	}
	var versions []string
	for _, e := range ents {
		if e.IsDir() {
			versions = append(versions, e.Name())
		}
	}
	sort.Strings(versions)
	switch len(versions) {
	case 1:
		return versions[0], nil
	case 0:
		return "", fmt.Errorf("find buildpack %s: no versions installed in %s", id, idDir)
	}
	return "", fmt.Errorf("find buildpack %s: no version given and several are installed (%s); name one as %s@<version>",
		id, strings.Join(versions, ", "), id)
}
