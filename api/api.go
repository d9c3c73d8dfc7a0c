// Package api resolves Buildpack and Platform API versions into typed capability values,
// so that business logic never compares version strings (docs/spec-notes.md, API versions; buildpack.md, Buildpack API Compatibility).
package api

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a CNB API version "<major>.<minor>" (platform.md, Platform API Compatibility).
type Version struct {
	Major, Minor int
}

// Parse reads "<major>.<minor>" or a bare "<major>" (meaning "<major>.0").
func Parse(s string) (Version, error) {
	s = strings.TrimSpace(s)
	maj, min, hasMin := strings.Cut(s, ".")
	var v Version
	var err error
	if v.Major, err = strconv.Atoi(maj); err != nil || v.Major < 0 {
		return Version{}, fmt.Errorf("invalid API version %q: want <major>.<minor>", s)
	}
	if hasMin {
		if v.Minor, err = strconv.Atoi(min); err != nil || v.Minor < 0 {
			return Version{}, fmt.Errorf("invalid API version %q: want <major>.<minor>", s)
		}
	}
	return v, nil
}

// MustParse is Parse for constants.
func MustParse(s string) Version {
	v, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return v
}

func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// Compare returns -1, 0 or 1.
func (v Version) Compare(o Version) int {
	switch {
	case v.Major != o.Major:
		if v.Major < o.Major {
			return -1
		}
		return 1
	case v.Minor != o.Minor:
		if v.Minor < o.Minor {
			return -1
		}
		return 1
	}
	return 0
}

// AtLeast reports whether v >= o.
func (v Version) AtLeast(o Version) bool { return v.Compare(o) >= 0 }

// Supported Buildpack and Platform API ranges (docs/spec-notes.md, API versions).
var (
	BuildpackMin = MustParse("0.7")
	BuildpackMax = MustParse("0.12")
	PlatformMin  = MustParse("0.7")
	PlatformMax  = MustParse("0.15")
)

// SupportedBuildpackAPIs lists every Buildpack API this lifecycle implements.
func SupportedBuildpackAPIs() []string { return span(BuildpackMin, BuildpackMax) }

// SupportedPlatformAPIs lists every Platform API this lifecycle implements.
func SupportedPlatformAPIs() []string { return span(PlatformMin, PlatformMax) }

func span(lo, hi Version) []string {
	var out []string
	for m := lo.Minor; m <= hi.Minor; m++ {
		out = append(out, Version{lo.Major, m}.String())
	}
	return out
}

// UnsupportedError is returned for an API version outside the supported range;
// the phases map it to exit code 11 (platform) or 12 (buildpack), platform.md, Platform API Compatibility.
type UnsupportedError struct {
	Kind    string // "buildpack" or "platform"
	Version string
	Who     string // e.g. "buildpack example/node@1.0.0"
}

func (e *UnsupportedError) Error() string {
	lo, hi := BuildpackMin, BuildpackMax
	if e.Kind == "platform" {
		lo, hi = PlatformMin, PlatformMax
	}
	who := ""
	if e.Who != "" {
		who = e.Who + ": "
	}
	return fmt.Sprintf("%s%s API %s is not supported (supported: %s to %s)", who, e.Kind, e.Version, lo, hi)
}

// Buildpack is what one buildpack's declared API allows; resolve it once with ForBuildpack
// and pass it down (buildpack.md, Buildpack API Compatibility).
type Buildpack struct {
	Version Version
	// PathEnv: CNB_* path variables (CNB_LAYERS_DIR, CNB_BP_PLAN_PATH, …) are set (B ≥ 0.8).
	PathEnv bool
	// WorkingDir: launch.toml processes may set working-dir (B ≥ 0.8).
	WorkingDir bool
	// CommandArray: launch.toml command is an array, direct is forbidden, args are overridable (B ≥ 0.9).
	CommandArray bool
	// NoShell: profile.d and <app>/.profile are not honoured (B ≥ 0.9).
	NoShell bool
	// TargetEnv: CNB_TARGET_* are provided, [[targets]] replace stacks (B ≥ 0.10).
	TargetEnv bool
	// NoRequiresVersion: a top-level requires.version is rejected (B ≥ 0.11; docs/spec-notes.md, API versions).
	NoRequiresVersion bool
	// ExecEnv: CNB_EXEC_ENV and exec-env keys are honoured (B ≥ 0.12).
	ExecEnv bool
}

// ForBuildpack resolves a buildpack's declared API. who names the buildpack in errors.
func ForBuildpack(declared, who string) (Buildpack, error) {
	v, err := Parse(declared)
	if err != nil {
		return Buildpack{}, fmt.Errorf("%s: %w", who, err)
	}
	if !v.AtLeast(BuildpackMin) || !BuildpackMax.AtLeast(v) {
		return Buildpack{}, &UnsupportedError{Kind: "buildpack", Version: declared, Who: who}
	}
	return Buildpack{
		Version:           v,
		PathEnv:           v.AtLeast(MustParse("0.8")),
		WorkingDir:        v.AtLeast(MustParse("0.8")),
		CommandArray:      v.AtLeast(MustParse("0.9")),
		NoShell:           v.AtLeast(MustParse("0.9")),
		TargetEnv:         v.AtLeast(MustParse("0.10")),
		NoRequiresVersion: v.AtLeast(MustParse("0.11")),
		ExecEnv:           v.AtLeast(MustParse("0.12")),
	}, nil
}

// Platform is what the negotiated Platform API allows.
type Platform struct {
	Version Version
	// OverridableArgs: user args replace process args (P ≥ 0.10).
	OverridableArgs bool
	// RunToml: run.toml and io.buildpacks.base.* labels replace stack.toml (P ≥ 0.12).
	RunToml bool
	// ExecEnv: CNB_EXEC_ENV, system.toml and exec-env filtering (P ≥ 0.15).
	ExecEnv bool
}

// DefaultPlatform is the Platform API slipway speaks when none is requested.
var DefaultPlatform = PlatformMax

// ForPlatform resolves the requested Platform API (CNB_PLATFORM_API), platform.md, Platform API Compatibility.
func ForPlatform(requested string) (Platform, error) {
	v := DefaultPlatform
	if requested != "" {
		var err error
		if v, err = Parse(requested); err != nil {
			return Platform{}, fmt.Errorf("CNB_PLATFORM_API: %w", err)
		}
	}
	if !v.AtLeast(PlatformMin) || !PlatformMax.AtLeast(v) {
		return Platform{}, &UnsupportedError{Kind: "platform", Version: requested}
	}
	return Platform{
		Version:         v,
		OverridableArgs: v.AtLeast(MustParse("0.10")),
		RunToml:         v.AtLeast(MustParse("0.12")),
		ExecEnv:         v.AtLeast(MustParse("0.15")),
	}, nil
}
