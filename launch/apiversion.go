package launch

import (
	"fmt"
	"strconv"
	"strings"
)

// The launcher may import only the standard library, this package and the TOML decoder
// (platform.md, launcher; docs/architecture.md, "Launcher"), so it cannot use package api. This file is the
// launcher's private, minimal copy of API version parsing; launch_test checks that its
// supported ranges agree with package api.

// apiVersion is a CNB API version "<major>.<minor>" (platform.md, Platform API Compatibility).
type apiVersion struct{ major, minor int }

// parseAPI reads "<major>.<minor>" or a bare "<major>" (meaning "<major>.0").
func parseAPI(s string) (apiVersion, error) {
	maj, min, hasMin := strings.Cut(strings.TrimSpace(s), ".")
	var v apiVersion
	var err error
	if v.major, err = strconv.Atoi(maj); err != nil || v.major < 0 {
		return apiVersion{}, fmt.Errorf("invalid API version %q: want <major>.<minor>", s)
	}
	if hasMin {
		if v.minor, err = strconv.Atoi(min); err != nil || v.minor < 0 {
			return apiVersion{}, fmt.Errorf("invalid API version %q: want <major>.<minor>", s)
		}
	}
	return v, nil
}

func (v apiVersion) atLeast(o apiVersion) bool {
	if v.major != o.major {
		return v.major > o.major
	}
	return v.minor >= o.minor
}

func (v apiVersion) String() string { return fmt.Sprintf("%d.%d", v.major, v.minor) }

// Supported ranges; they must equal api.PlatformMin/Max and api.BuildpackMin/Max
// (docs/spec-notes.md, API versions).
var (
	platformMin  = apiVersion{0, 7}
	platformMax  = apiVersion{0, 15}
	buildpackMin = apiVersion{0, 7}
	buildpackMax = apiVersion{0, 12}
)

// SupportedAPIs reports the Platform and Buildpack API ranges the launcher accepts, so
// that tests outside this package can check them against package api.
func SupportedAPIs() (platformLo, platformHi, buildpackLo, buildpackHi string) {
	return platformMin.String(), platformMax.String(), buildpackMin.String(), buildpackMax.String()
}

// Capability thresholds used at launch.
var (
	// Buildpack API 0.9: command arrays, always-direct processes, overridable args,
	// no profile.d (docs/spec-notes.md, API versions; buildpack.md, Launch).
	bpNoShell = apiVersion{0, 9}
	// Platform API 0.10: user args replace process args (buildpack.md, Launch).
	platformOverridableArgs = apiVersion{0, 10}
	// Platform API 0.15: processes are filtered by exec-env (buildpack.md, Launch).
	platformExecEnv = apiVersion{0, 15}
)
