package golang

import (
	"fmt"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// Defaults of the toolchain sources.
const (
	DefaultDownloadURL = "https://go.dev/dl"
	DefaultGOPROXY     = "https://proxy.golang.org,direct"
	DefaultGOSUMDB     = "sum.golang.org"
)

// Config is the user's configuration, from the build environment or <platform>/env files
// (README.md lists each variable and its Paketo equivalent).
type Config struct {
	Version     string   // BP_GO_VERSION
	Sources     []string // BP_GO_TOOLCHAIN_SOURCES: "official", "proxy", in the order tried
	DownloadURL string   // BP_GO_DOWNLOAD_URL: the official downloads or a mirror of them
	Targets     []string // BP_GO_TARGETS, ':'-separated packages
	BuildFlags  []string // BP_GO_BUILD_FLAGS, split like a shell would
	LDFlags     string   // BP_GO_BUILD_LDFLAGS
	KeepFiles   []string // BP_KEEP_FILES, ':'-separated globs relative to the app

	// The go command's own settings, passed through to every go invocation (and used by
	// the proxy toolchain source the way GOTOOLCHAIN downloads use them).
	GoEnv map[string]string
}

// passThrough are the go command's variables the buildpack forwards as the user set them.
var passThrough = []string{
	"GOPROXY", "GOPRIVATE", "GONOPROXY", "GONOSUMDB", "GONOSUMCHECK", "GOSUMDB", "GOFLAGS",
	"GOINSECURE", "GOAMD64", "GOARM64", "GOEXPERIMENT", "CGO_ENABLED", "CGO_CFLAGS", "CGO_LDFLAGS",
	"GOVCS", "GOAUTH",
}

// ReadConfig reads Config from env and <platform>/env.
func ReadConfig(env sdk.Environ, platformDir string) (Config, error) {
	get := func(name, def string) string { return env.Config(platformDir, name, def) }
	c := Config{
		Version:     strings.TrimSpace(get("BP_GO_VERSION", "")),
		DownloadURL: strings.TrimSuffix(get("BP_GO_DOWNLOAD_URL", DefaultDownloadURL), "/"),
		LDFlags:     get("BP_GO_BUILD_LDFLAGS", ""),
		GoEnv:       map[string]string{},
	}
	for _, s := range strings.Split(get("BP_GO_TOOLCHAIN_SOURCES", "official,proxy"), ",") {
		s = strings.ToLower(strings.TrimSpace(s))
		switch s {
		case "":
		case "official", "proxy":
			c.Sources = append(c.Sources, s)
		default:
			return c, fmt.Errorf("BP_GO_TOOLCHAIN_SOURCES: unknown source %q: use \"official\" (BP_GO_DOWNLOAD_URL) and/or \"proxy\" (GOPROXY's golang.org/toolchain modules), comma-separated", s)
		}
	}
	if len(c.Sources) == 0 {
		return c, fmt.Errorf("BP_GO_TOOLCHAIN_SOURCES is empty: name \"official\", \"proxy\" or both")
	}
	c.Targets = splitList(get("BP_GO_TARGETS", ""))
	c.KeepFiles = splitList(get("BP_KEEP_FILES", ""))
	flags, err := splitShell(get("BP_GO_BUILD_FLAGS", ""))
	if err != nil {
		return c, fmt.Errorf("BP_GO_BUILD_FLAGS: %w", err)
	}
	c.BuildFlags = flags
	for _, name := range passThrough {
		if v := get(name, ""); v != "" {
			c.GoEnv[name] = v
		}
	}
	return c, nil
}

// goEnv returns a go variable as the go command would see it, with its default.
func (c Config) goEnv(name string) string {
	if v, ok := c.GoEnv[name]; ok {
		return v
	}
	switch name {
	case "GOPROXY":
		return DefaultGOPROXY
	case "GOSUMDB":
		return DefaultGOSUMDB
	case "GONOSUMDB":
		// The go command's default: GONOSUMDB falls back to GOPRIVATE.
		return c.GoEnv["GOPRIVATE"]
	}
	return ""
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ":") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// splitShell splits s into words the way sh does for quoting: single and double quotes
// group, backslash escapes; no expansion.
func splitShell(s string) ([]string, error) {
	var (
		out   []string
		cur   strings.Builder
		in    bool
		quote rune
	)
	for i := 0; i < len(s); i++ {
		r := rune(s[i])
		switch {
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\\' && i+1 < len(s) && quote != '\'':
			i++
			cur.WriteByte(s[i])
			in = true
		case quote == '"':
			if r == '"' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote in %q", quote, s)
	}
	if in {
		out = append(out, cur.String())
	}
	return out, nil
}

// goArch maps CNB_TARGET_ARCH to GOARCH.
func goArch(arch string) (string, error) {
	switch arch {
	case "amd64", "":
		return "amd64", nil
	case "arm64":
		return "arm64", nil
	}
	return "", fmt.Errorf("Go buildpack does not support architecture %q (amd64, arm64)", arch)
}
