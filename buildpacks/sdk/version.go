package sdk

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Version is a language runtime's release, major.minor.patch: what Ruby, PHP and CPython
// number their releases with, and what each buildpack's version constraint grammar
// (RubyGems, Composer, PEP 440) is matched against.
type Version [3]int

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2]) }

// Minor is "3.1", the part Debian's runtime package names carry (ruby3.1, php8.2-cli,
// python3.11).
func (v Version) Minor() string { return fmt.Sprintf("%d.%d", v[0], v[1]) }

// Compare is -1, 0 or 1 as v is older than, the same as or newer than w.
func (v Version) Compare(w Version) int {
	for i := range v {
		if v[i] != w[i] {
			if v[i] < w[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// Newest is the newest of offered that allows accepts: how every runtime buildpack picks
// its version once it has read the app's constraint in its own language's grammar.
func Newest(offered []Version, allows func(Version) bool) (Version, bool) {
	var best Version
	found := false
	for _, v := range offered {
		if allows(v) && (!found || v.Compare(best) > 0) {
			best, found = v, true
		}
	}
	return best, found
}

var (
	debianUpstream = regexp.MustCompile(`^(?:\d+:)?(\d+)\.(\d+)\.(\d+)`)
	// "+really" is Debian's way to go back to an older upstream release under a newer
	// version number: 3.1.7+really3.1.2 packages 3.1.2.
	debianReally = regexp.MustCompile(`\+really(\d+)\.(\d+)\.(\d+)`)
)

// DebianUpstream is the upstream release a Debian package version packages
// ("1:8.2.7-1~deb12u1" is 8.2.7, "3.1.7+really3.1.2-1" is 3.1.2); a plain
// "major.minor.patch" reads as itself.
func DebianUpstream(debVersion string) (Version, bool) {
	m := debianReally.FindStringSubmatch(debVersion)
	if m == nil {
		m = debianUpstream.FindStringSubmatch(strings.TrimSpace(debVersion))
	}
	if m == nil {
		return Version{}, false
	}
	var v Version
	for i := range v {
		v[i], _ = strconv.Atoi(m[i+1])
	}
	return v, true
}
