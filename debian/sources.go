package debian

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Where a Slipway stack records, inside its build image, what buildpacks need to install
// more Debian packages that match the stack: the apt sources it was built from (with
// their keyrings) and the dpkg status of its run image. The build image's own packages
// are in its /var/lib/dpkg/status.
const (
	StackRecordDir    = "/etc/slipway/apt"
	StackSourcesFile  = StackRecordDir + "/sources.list"
	StackKeyringDir   = StackRecordDir + "/keyrings"
	StackRunStatus    = StackRecordDir + "/run-status"
	DpkgStatusFile    = "/var/lib/dpkg/status"
	sourcesListFormat = `deb [arch=ARCH signed-by=KEYRING] URL SUITE COMPONENT...`
)

// FormatSourcesList writes sources as one-line sources.list entries (sources.list(5)),
// with the arch and signed-by options.
func FormatSourcesList(sources []Source) []byte {
	var b strings.Builder
	for _, s := range sources {
		fmt.Fprintf(&b, "deb [arch=%s signed-by=%s] %s %s %s\n", s.Architecture, s.Keyring, s.URL, s.Suite, strings.Join(s.Components, " "))
	}
	return []byte(b.String())
}

// ParseSourceLine parses one one-line sources.list entry ("deb [options] URL suite
// component..."). A relative signed-by is resolved against baseDir; arch defaults to
// defaultArch. Only binary ("deb") entries and the arch and signed-by options are
// understood; a keyring is required because unsigned repositories are refused.
func ParseSourceLine(line, baseDir, defaultArch string) (Source, error) {
	f := strings.Fields(line)
	if len(f) == 0 || f[0] != "deb" {
		return Source{}, fmt.Errorf("want %q, got %q", sourcesListFormat, line)
	}
	f = f[1:]
	src := Source{Architecture: defaultArch}
	if len(f) > 0 && strings.HasPrefix(f[0], "[") {
		var opts []string
		for len(f) > 0 {
			o := f[0]
			f = f[1:]
			end := strings.HasSuffix(o, "]")
			o = strings.TrimSuffix(strings.TrimPrefix(o, "["), "]")
			if o != "" {
				opts = append(opts, o)
			}
			if end {
				break
			}
		}
		for _, o := range opts {
			k, v, _ := strings.Cut(o, "=")
			switch k {
			case "arch":
				src.Architecture = v
			case "signed-by":
				src.Keyring = v
			default:
				return Source{}, fmt.Errorf("option %q of %q is not supported (arch and signed-by are)", k, line)
			}
		}
	}
	if len(f) < 3 {
		return Source{}, fmt.Errorf("want %q, got %q", sourcesListFormat, line)
	}
	src.URL, src.Suite, src.Components = strings.TrimSuffix(f[0], "/"), f[1], f[2:]
	if !strings.HasPrefix(src.URL, "http://") && !strings.HasPrefix(src.URL, "https://") {
		return Source{}, fmt.Errorf("%q: the URL must be http:// or https://", line)
	}
	if src.Keyring == "" {
		return Source{}, fmt.Errorf("%q has no signed-by=KEYRING option; unsigned repositories are refused", line)
	}
	if !filepath.IsAbs(src.Keyring) && baseDir != "" {
		src.Keyring = filepath.Join(baseDir, src.Keyring)
	}
	return src, nil
}

// ParseSourcesList parses a one-line sources.list; blank lines and '#' comments are
// skipped. name is used in errors, with the line number.
func ParseSourcesList(data []byte, name, baseDir, defaultArch string) ([]Source, error) {
	var out []Source
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s, err := ParseSourceLine(line, baseDir, defaultArch)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, i+1, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// String is the source as a one-line sources.list entry.
func (s Source) String() string {
	return strings.TrimSuffix(string(FormatSourcesList([]Source{s})), "\n")
}
