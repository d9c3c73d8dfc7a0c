package buildpack

import (
	"fmt"
	"regexp"
	"strings"
)

// Every id, version, process type and layer name becomes part of a path (on the host:
// <buildpacks>/<id>/<version>, <layers>/<id>/<layer>; in the image: /cnb/process/<type>),
// so each is checked against the spec's grammar, and against what the grammar admits but a
// path cannot hold ("." and ".."), before it is used anywhere.

var (
	// buildpack.md, buildpack.toml (TOML): the id MUST only contain numbers, letters, and
	// the characters '.', '/' and '-'.
	idPattern = regexp.MustCompile(`^[A-Za-z0-9./-]+$`)
	// buildpack.md, buildpack.toml (TOML): version MUST be in semver format; this is the
	// grammar of Semantic Versioning 2.0.0 (pre-release and build identifiers are
	// dot-separated [0-9A-Za-z-]+, numeric pre-release identifiers without leading zeros).
	versionPattern = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)` +
		`(-(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(\.(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?` +
		`(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$`)
	// buildpack.md, launch.toml (TOML): a process type MUST only contain numbers, letters,
	// and the characters '.', '_' and '-'.
	processTypePattern = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	// buildpack.md, buildpack.toml (TOML): config and app are reserved; sbom and generated
	// are directories of <layers> too.
	reservedIDs = map[string]bool{"app": true, "config": true, "generated": true, "sbom": true}
)

// ValidateID checks a buildpack id.
func ValidateID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("buildpack id is empty")
	case !idPattern.MatchString(id):
		return fmt.Errorf("buildpack id %q may contain only letters, digits, '.', '/' and '-' (buildpack.md)", id)
	case reservedIDs[strings.ToLower(id)]:
		return fmt.Errorf("buildpack id %q is reserved", id)
	}
	for _, part := range strings.Split(id, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("buildpack id %q has an empty, '.' or '..' part; it would not name a directory", id)
		}
	}
	return nil
}

// ValidateVersion checks a buildpack version: semver, which has no '/' and no "..".
func ValidateVersion(version string) error {
	if version == "" {
		return fmt.Errorf("version is empty")
	}
	if !versionPattern.MatchString(version) {
		return fmt.Errorf("version %q is not a semantic version (MAJOR.MINOR.PATCH, optional -pre.release and +build of letters, digits and '-')", version)
	}
	return nil
}

// classicVersionPattern is what ClassicVersion produces: a ref or digest made one path
// component.
var classicVersionPattern = regexp.MustCompile(`^[A-Za-z0-9._+-]+$`)

func validateClassicVersion(version string) error {
	if !classicVersionPattern.MatchString(version) || version == "." || version == ".." {
		return fmt.Errorf("classic buildpack version %q may contain only letters, digits, '.', '_', '+' and '-', and cannot be '.' or '..'", version)
	}
	return nil
}

// ValidateRef checks an id and, when not empty, a version, as found in an order, a group or
// an image label, for use in a path; errors name both. The version is held to what a
// version may be in any descriptor (semver, or a classic buildpack's ref): the descriptor
// found there is checked in full when read.
func ValidateRef(id, version string) error {
	if err := ValidateID(id); err != nil {
		return fmt.Errorf("buildpack %s@%s: %w", id, version, err)
	}
	if version == "" {
		return nil
	}
	if err := validateClassicVersion(version); err != nil {
		return fmt.Errorf("buildpack %s@%s: version %q is not a semantic version nor a classic buildpack's ref: %w", id, version, version, err)
	}
	return nil
}

// ValidateProcessType checks a process type: it names /cnb/process/<type> in the image.
func ValidateProcessType(t string) error {
	switch {
	case t == "":
		return fmt.Errorf("process type is empty")
	case !processTypePattern.MatchString(t):
		return fmt.Errorf("process type %q may contain only letters, digits, '.', '_' and '-' (buildpack.md, launch.toml)", t)
	case t == "." || t == "..":
		return fmt.Errorf("process type %q cannot be a file name (it becomes /cnb/process/%s); rename it", t, t)
	}
	return nil
}
