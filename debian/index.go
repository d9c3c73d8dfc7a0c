package debian

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// Package is one binary package of a Packages index.
type Package struct {
	Name, Version, Architecture string
	PreDepends, Depends         []Alternatives
	Provides                    []Relation
	Essential                   bool
	Priority                    string
	// Filename is relative to BaseURL (the repository root).
	Filename, BaseURL string
	Size              int64
	SHA256            string
}

// URL is where the .deb is downloaded from.
func (p *Package) URL() string { return p.BaseURL + "/" + p.Filename }

func (p *Package) String() string { return p.Name + " " + p.Version }

func packageFromIndex(para Paragraph, baseURL string) (*Package, error) {
	p := &Package{
		Name:         para.Get("Package"),
		Version:      para.Get("Version"),
		Architecture: para.Get("Architecture"),
		Essential:    para.Get("Essential") == "yes",
		Priority:     para.Get("Priority"),
		Filename:     para.Get("Filename"),
		SHA256:       strings.ToLower(para.Get("SHA256")),
		BaseURL:      baseURL,
	}
	if p.Name == "" || p.Version == "" || p.Filename == "" {
		return nil, fmt.Errorf("index entry %q lacks Package, Version or Filename", p.Name)
	}
	if p.SHA256 == "" {
		return nil, fmt.Errorf("index entry %s %s has no SHA256; refusing unverifiable packages", p.Name, p.Version)
	}
	var err error
	if p.Size, err = strconv.ParseInt(para.Get("Size"), 10, 64); err != nil {
		return nil, fmt.Errorf("index entry %s %s: bad Size: %w", p.Name, p.Version, err)
	}
	if p.PreDepends, err = ParseRelations(para.Get("Pre-Depends")); err != nil {
		return nil, fmt.Errorf("index entry %s %s: Pre-Depends: %w", p.Name, p.Version, err)
	}
	if p.Depends, err = ParseRelations(para.Get("Depends")); err != nil {
		return nil, fmt.Errorf("index entry %s %s: Depends: %w", p.Name, p.Version, err)
	}
	prov, err := ParseRelations(para.Get("Provides"))
	if err != nil {
		return nil, fmt.Errorf("index entry %s %s: Provides: %w", p.Name, p.Version, err)
	}
	for _, a := range prov {
		p.Provides = append(p.Provides, a...)
	}
	return p, nil
}

// Index holds the packages of one or more Packages files.
type Index struct {
	byName    map[string][]*Package // newest version first
	providers map[string][]provider // virtual name → packages providing it
}

type provider struct {
	pkg     *Package
	version string // the provided version, "" when unversioned
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{byName: map[string][]*Package{}, providers: map[string][]provider{}}
}

// Add puts p in the index. When several sources carry the same name and version, the
// first one added wins, as with apt's source order.
func (idx *Index) Add(p *Package) {
	list := idx.byName[p.Name]
	for _, q := range list {
		if q.Version == p.Version {
			return
		}
	}
	list = append(list, p)
	sort.SliceStable(list, func(i, j int) bool { return CompareVersions(list[i].Version, list[j].Version) > 0 })
	idx.byName[p.Name] = list
	for _, r := range p.Provides {
		idx.providers[r.Name] = append(idx.providers[r.Name], provider{pkg: p, version: r.Version})
	}
}

// Len is the number of package versions in the index.
func (idx *Index) Len() int {
	n := 0
	for _, l := range idx.byName {
		n += len(l)
	}
	return n
}

// Lookup returns the newest version of the named real package.
func (idx *Index) Lookup(name string) (*Package, bool) {
	l := idx.byName[name]
	if len(l) == 0 {
		return nil, false
	}
	return l[0], true
}

// candidates returns the packages that satisfy r: real packages of that name whose
// version matches (newest first), then packages providing it (Provides: a versioned
// relation only matches a versioned provide).
func (idx *Index) candidates(r Relation) []*Package {
	var out []*Package
	for _, p := range idx.byName[r.Name] {
		if r.SatisfiedBy(p.Version) {
			out = append(out, p)
		}
	}
	var provs []*Package
	for _, pr := range idx.providers[r.Name] {
		if r.Op == "" || (pr.version != "" && r.SatisfiedBy(pr.version)) {
			provs = append(provs, pr.pkg)
		}
	}
	// Among providers, prefer the more important package (as apt does: awk is mawk,
	// Priority: required, not gawk, optional), then index order.
	sort.SliceStable(provs, func(i, j int) bool { return priorityRank(provs[i]) < priorityRank(provs[j]) })
	return append(out, provs...)
}

func priorityRank(p *Package) int {
	if p.Essential {
		return 0
	}
	switch p.Priority {
	case "required":
		return 1
	case "important":
		return 2
	case "standard":
		return 3
	case "optional":
		return 4
	}
	return 5
}

// UnsatisfiableError says which requested package could not be installed and through
// which chain of dependencies the missing one was reached.
type UnsatisfiableError struct {
	Chain   []string // requested package, then each dependency followed
	Missing string   // the relation nothing in the index satisfies
	Reason  string
}

func (e *UnsatisfiableError) Error() string {
	path := append(append([]string(nil), e.Chain...), e.Missing)
	return fmt.Sprintf("cannot install %s: %s: %s", path[0], strings.Join(path, " → "), e.Reason)
}

// Resolve selects the packages needed to install names: each name's newest version, and
// recursively its Pre-Depends and Depends. For alternatives ("a | b") an alternative
// already selected wins; otherwise the first one whose whole dependency tree can be
// satisfied. Recommends, Suggests, Conflicts and Breaks are not considered. The result
// is in install order (dependencies before dependents; ties in the order met), which is
// deterministic for a given index and list.
func (idx *Index) Resolve(names []string) ([]*Package, error) {
	return idx.ResolveOnto(names, nil)
}

// ResolveOnto is Resolve on a system that already has installed (read from its dpkg
// status with ReadStatus): a dependency an installed package satisfies (by name and
// version, or through Provides) is not selected, and neither is a requested name that is
// installed. An installed version too old for a dependency does not block: the index's
// version is selected, as an upgrade would.
func (idx *Index) ResolveOnto(names []string, installed []*Package) ([]*Package, error) {
	s := &resolution{idx: idx, selected: map[string]*Package{}, provided: map[string][]*Package{}, installed: map[string][]*Package{}}
	for _, p := range installed {
		s.installed[p.Name] = append(s.installed[p.Name], p)
		for _, pr := range p.Provides {
			s.installed[pr.Name] = append(s.installed[pr.Name], p)
		}
	}
	for _, n := range names {
		rel, err := parseRelation(n)
		if err != nil {
			return nil, fmt.Errorf("package %q: %w", n, err)
		}
		if err := s.install(Alternatives{rel}, nil); err != nil {
			return nil, err
		}
	}
	return s.order, nil
}

type resolution struct {
	idx      *Index
	selected map[string]*Package   // name → chosen package
	provided map[string][]*Package // virtual name → chosen providers
	order    []*Package
	// installed maps real and provided names to packages already on the system.
	installed map[string][]*Package
}

func (s *resolution) clone() *resolution {
	c := &resolution{idx: s.idx, selected: map[string]*Package{}, provided: map[string][]*Package{}, order: append([]*Package(nil), s.order...), installed: s.installed}
	for k, v := range s.selected {
		c.selected[k] = v
	}
	for k, v := range s.provided {
		c.provided[k] = append([]*Package(nil), v...)
	}
	return c
}

// satisfied reports whether a package already selected satisfies r.
func (s *resolution) satisfied(r Relation) bool {
	if p, ok := s.selected[r.Name]; ok && r.SatisfiedBy(p.Version) {
		return true
	}
	for _, p := range s.installed[r.Name] {
		if p.Name == r.Name && r.SatisfiedBy(p.Version) {
			return true
		}
		for _, pr := range p.Provides {
			if pr.Name == r.Name && (r.Op == "" || (pr.Version != "" && r.SatisfiedBy(pr.Version))) {
				return true
			}
		}
	}
	for _, p := range s.provided[r.Name] {
		for _, pr := range p.Provides {
			if pr.Name == r.Name && (r.Op == "" || (pr.Version != "" && r.SatisfiedBy(pr.Version))) {
				return true
			}
		}
	}
	return false
}

func (s *resolution) install(alts Alternatives, chain []string) error {
	for _, r := range alts {
		if s.satisfied(r) {
			return nil
		}
	}
	var first error
	for _, r := range alts {
		cands := s.idx.candidates(r)
		if len(cands) == 0 {
			if first == nil {
				reason := "no package of that name or providing it is in the index"
				if l := s.idx.byName[r.Name]; len(l) > 0 {
					reason = fmt.Sprintf("the index has only version %s", l[0].Version)
				}
				if p, ok := s.selected[r.Name]; ok {
					reason = fmt.Sprintf("version %s is already selected", p.Version)
				}
				first = &UnsatisfiableError{Chain: chain, Missing: r.String(), Reason: reason}
			}
			continue
		}
		for _, cand := range cands {
			if p, ok := s.selected[cand.Name]; ok && p != cand {
				// Another version of this package is already chosen; one name, one version.
				if first == nil {
					first = &UnsatisfiableError{Chain: chain, Missing: r.String(), Reason: fmt.Sprintf("%s %s is already selected", p.Name, p.Version)}
				}
				continue
			}
			trial := s
			if len(alts) > 1 || len(cands) > 1 {
				trial = s.clone()
			}
			if err := trial.add(cand, append(chain[:len(chain):len(chain)], cand.Name)); err != nil {
				if first == nil {
					first = err
				}
				continue
			}
			*s = *trial
			return nil
		}
	}
	return first
}

func (s *resolution) add(p *Package, chain []string) error {
	if s.selected[p.Name] == p {
		return nil
	}
	// Selected before its dependencies so dependency cycles (common among essential
	// packages) terminate.
	s.selected[p.Name] = p
	for _, pr := range p.Provides {
		s.provided[pr.Name] = append(s.provided[pr.Name], p)
	}
	for _, deps := range [][]Alternatives{p.PreDepends, p.Depends} {
		for _, alts := range deps {
			if err := s.install(alts, chain); err != nil {
				return err
			}
		}
	}
	s.order = append(s.order, p)
	return nil
}

// ReadStatus reads the installed packages of a dpkg status file (/var/lib/dpkg/status):
// entries whose Status is "install ok installed". name is used in errors.
func ReadStatus(r io.Reader, name string) ([]*Package, error) {
	var out []*Package
	err := ReadParagraphs(r, name, func(para Paragraph) error {
		if !strings.HasSuffix(para.Get("Status"), " installed") {
			return nil
		}
		p := &Package{Name: para.Get("Package"), Version: para.Get("Version"), Architecture: para.Get("Architecture")}
		if p.Name == "" || p.Version == "" {
			return nil
		}
		prov, err := ParseRelations(para.Get("Provides"))
		if err != nil {
			return fmt.Errorf("%s %s: Provides: %w", p.Name, p.Version, err)
		}
		for _, a := range prov {
			p.Provides = append(p.Provides, a...)
		}
		out = append(out, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read dpkg status %s: %w", name, err)
	}
	return out, nil
}
