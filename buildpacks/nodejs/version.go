package nodejs

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// Release is one installable Node.js version.
type Release struct {
	Version *semver.Version
	// LTS is the release line's codename ("Jod") when the source knows it is LTS.
	LTS string
}

// Requirement is where the wanted version came from and what it says.
type Requirement struct {
	Source     string // "BP_NODE_VERSION", "package.json engines.node", ".nvmrc", ".node-version", "default"
	Constraint string
}

// ltsCodenames maps release-line codenames (used by .nvmrc "lts/<name>") to majors.
var ltsCodenames = map[string]uint64{
	"argon": 4, "boron": 6, "carbon": 8, "dubnium": 10, "erbium": 12, "fermium": 14,
	"gallium": 16, "hydrogen": 18, "iron": 20, "jod": 22, "krypton": 24,
}

// FindRequirement picks the version requirement: BP_NODE_VERSION, then package.json
// engines.node, then .nvmrc, then .node-version, else the current LTS.
func FindRequirement(appDir string, pkg *PackageJSON, envVersion string) (Requirement, error) {
	if envVersion != "" {
		return Requirement{Source: "BP_NODE_VERSION", Constraint: envVersion}, nil
	}
	if pkg != nil && strings.TrimSpace(pkg.Engines["node"]) != "" {
		return Requirement{Source: "package.json engines.node", Constraint: pkg.Engines["node"]}, nil
	}
	for _, f := range []string{".nvmrc", ".node-version"} {
		b, err := os.ReadFile(filepath.Join(appDir, f))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return Requirement{}, fmt.Errorf("read %s: %w", f, err)
		}
		// Only the first non-comment line counts (nvm ignores the rest).
		for _, l := range strings.Split(string(b), "\n") {
			l = strings.TrimSpace(l)
			if l != "" && !strings.HasPrefix(l, "#") {
				return Requirement{Source: f, Constraint: l}, nil
			}
		}
	}
	return Requirement{Source: "default", Constraint: "lts/*"}, nil
}

// Resolve picks the highest release satisfying req. An alias "lts/*" (and the default)
// means the newest LTS line; "lts/<codename>" that line; "node", "latest", "current" the
// newest release. When nothing satisfies the constraint, the error lists the nearest
// available versions.
func Resolve(req Requirement, releases []Release) (*semver.Version, error) {
	if len(releases) == 0 {
		return nil, fmt.Errorf("no Node.js versions available from the configured source")
	}
	sorted := append([]Release(nil), releases...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Version.GreaterThan(sorted[j].Version) })

	c := strings.TrimSpace(req.Constraint)
	low := strings.ToLower(c)
	switch {
	case low == "node" || low == "latest" || low == "current" || low == "*":
		return sorted[0].Version, nil
	case low == "lts/*" || low == "lts":
		major, ok := newestLTSMajor(sorted)
		if !ok {
			return nil, fmt.Errorf("no LTS release of Node.js found in the configured source")
		}
		c = fmt.Sprintf("%d.x", major)
	case strings.HasPrefix(low, "lts/"):
		major, ok := ltsCodenames[strings.TrimPrefix(low, "lts/")]
		if !ok {
			for _, r := range sorted {
				if strings.EqualFold(r.LTS, strings.TrimPrefix(low, "lts/")) {
					major, ok = r.Version.Major(), true
					break
				}
			}
		}
		if !ok {
			return nil, fmt.Errorf("unknown Node.js LTS line %q in %s; use a version range such as \"22.x\"", c, req.Source)
		}
		c = fmt.Sprintf("%d.x", major)
	}
	// nvm and .node-version files commonly say "v20.1.0".
	c = strings.TrimPrefix(strings.TrimPrefix(c, "v"), "V")
	constraint, err := semver.NewConstraint(c)
	if err != nil {
		return nil, fmt.Errorf("parse Node.js version %q from %s: %w; use a semver range such as \"22.x\" or \">=20 <23\"", req.Constraint, req.Source, err)
	}
	// The newest LTS release that satisfies the range, and a Current (non-LTS) one only
	// when no LTS release does: ">=16" means "a supported Node.js", not "the newest
	// release line", whose binaries may need more of the run image (libatomic) and which
	// is supported for months rather than years.
	lts := ltsMajors(sorted)
	var current *semver.Version
	for _, r := range sorted {
		if r.Version.Prerelease() != "" || !constraint.Check(r.Version) {
			continue
		}
		if lts[r.Version.Major()] {
			return r.Version, nil
		}
		if current == nil {
			current = r.Version
		}
	}
	if current != nil {
		return current, nil
	}
	return nil, &NoVersionError{Requirement: req, Nearest: nearest(c, sorted, 4)}
}

// IsLTS reports whether v belongs to an LTS release line according to releases.
func IsLTS(v *semver.Version, releases []Release) bool { return ltsMajors(releases)[v.Major()] }

// ltsMajors is the set of LTS release lines. A source that marks LTS releases (the
// official index.json) is taken at its word. Otherwise (the npm registry package) it uses
// Node.js's release schedule: an even major enters LTS in October, when the next odd major
// ships, so an even major with an odd successor is LTS.
func ltsMajors(releases []Release) map[uint64]bool {
	out := map[uint64]bool{}
	all := map[uint64]bool{}
	for _, r := range releases {
		all[r.Version.Major()] = true
		if r.LTS != "" {
			out[r.Version.Major()] = true
		}
	}
	if len(out) > 0 {
		return out
	}
	for m := range all {
		if m%2 == 0 && m >= 4 && all[m+1] {
			out[m] = true
		}
	}
	return out
}

// NoVersionError says no available release satisfies the requirement.
type NoVersionError struct {
	Requirement Requirement
	Nearest     []string
}

func (e *NoVersionError) Error() string {
	return fmt.Sprintf("no Node.js version satisfies %q (from %s); nearest available versions: %s. Change the range or pick a source that has it (BP_NODE_SOURCE, BP_NODE_MIRROR)",
		e.Requirement.Constraint, e.Requirement.Source, strings.Join(e.Nearest, ", "))
}

// newestLTSMajor is the newest LTS line (see ltsMajors).
func newestLTSMajor(sorted []Release) (uint64, bool) {
	lts := ltsMajors(sorted)
	for _, r := range sorted {
		if lts[r.Version.Major()] {
			return r.Version.Major(), true
		}
	}
	return 0, false
}

var firstVersion = regexp.MustCompile(`\d+(\.\d+)?(\.\d+)?`)

// nearest lists up to n available versions closest to the first version named in the
// constraint: half below it, half above.
func nearest(constraint string, sortedDesc []Release, n int) []string {
	pivot, err := semver.NewVersion(firstVersion.FindString(constraint))
	if err != nil {
		pivot = sortedDesc[0].Version
	}
	var below, above []string
	for i := len(sortedDesc) - 1; i >= 0; i-- { // ascending
		v := sortedDesc[i].Version
		if v.Prerelease() != "" {
			continue
		}
		if v.LessThan(pivot) {
			below = append(below, v.String())
		} else if len(above) < n {
			above = append(above, v.String())
		}
	}
	if len(below) > n {
		below = below[len(below)-n:]
	}
	half := n / 2
	nb := min(len(below), max(half, n-len(above)))
	na := min(len(above), n-nb)
	out := append([]string{}, below[len(below)-nb:]...)
	return append(out, above[:na]...)
}
