package buildpack

import (
	"strings"
	"testing"
)

func TestValidateNames(t *testing.T) {
	good := map[string]func(string) error{
		"example/node": ValidateID, "io.buildpacks.x-y": ValidateID, "a/b/c": ValidateID,
		"1.0.0": ValidateVersion, "1.2.3-rc.1+build.5": ValidateVersion, "0.0.1-alpha-2": ValidateVersion,
		"web": ValidateProcessType, "worker.v2_x-1": ValidateProcessType,
	}
	for v, f := range good {
		if err := f(v); err != nil {
			t.Errorf("%q: %v", v, err)
		}
	}
	bad := []struct {
		value string
		f     func(string) error
		want  string
	}{
		{"..", ValidateID, "'..'"},
		{".", ValidateID, "'.'"},
		{"a/../b", ValidateID, "'..'"},
		{"/abs", ValidateID, "empty"},
		{"a b", ValidateID, "only letters"},
		{"config", ValidateID, "reserved"},
		{"1.0.0-/../../../../tmp/victim", ValidateVersion, "not a semantic version"},
		{"1.0.0+../x", ValidateVersion, "not a semantic version"},
		{"1.0.0-01", ValidateVersion, "not a semantic version"},
		{"01.0.0", ValidateVersion, "not a semantic version"},
		{"1.0", ValidateVersion, "not a semantic version"},
		{"..", ValidateProcessType, "cannot be a file name"},
		{".", ValidateProcessType, "cannot be a file name"},
		{"a/b", ValidateProcessType, "only letters"},
		{"..", ValidateLayerName, "'..'"},
		{"store", ValidateLayerName, "reserved"},
		{"a/b", ValidateLayerName, "'/'"},
	}
	for _, tc := range bad {
		if err := tc.f(tc.value); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want one containing %q", tc.value, err, tc.want)
		}
	}
}

// FuzzValidatedNamesArePathSafe: whatever passes validation is one path component (or,
// for ids, components joined by '/' that EscapedID turns into one).
func FuzzValidatedNamesArePathSafe(f *testing.F) {
	for _, s := range []string{"1.0.0", "1.0.0-/../x", "..", "a/b", "web", "1.0.0-a.b+c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		safe := func(c string) bool { return c != "" && c != "." && c != ".." && !strings.ContainsAny(c, "/\\\x00") }
		if ValidateVersion(s) == nil && !safe(s) {
			t.Errorf("version %q passes but is not one path component", s)
		}
		if ValidateProcessType(s) == nil && !safe(s) {
			t.Errorf("process type %q passes but is not one path component", s)
		}
		if ValidateLayerName(s) == nil && !safe(s) {
			t.Errorf("layer name %q passes but is not one path component", s)
		}
		if ValidateID(s) == nil && !safe(EscapedID(s)) {
			t.Errorf("id %q passes but escapes to %q", s, EscapedID(s))
		}
	})
}
