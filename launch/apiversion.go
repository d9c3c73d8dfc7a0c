package launch

import (
	"fmt"
	"strconv"
	"strings"
)

// The launcher may import only the standard library, this package and the TOML decoder
// (cnb-spec.md §6, STYLE.md habit 13), so it cannot use package api. This file is the
// launcher's private, minimal copy of API version parsing; launch_test checks that its
// supported ranges agree with package api.

// apiVersion is a CNB API version "<major>.<minor>" (cnb-spec.md §1.3).
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
// (cnb-spec.md §1.2).
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
	// no profile.d (cnb-spec.md §1.5, §6.3).
	bpNoShell = apiVersion{0, 9}
	// Platform API 0.10: user args replace process args (cnb-spec.md §6.3).
	platformOverridableArgs = apiVersion{0, 10}
	// Platform API 0.15: processes are filtered by exec-env (cnb-spec.md §6.2).
	platformExecEnv = apiVersion{0, 15}
)
