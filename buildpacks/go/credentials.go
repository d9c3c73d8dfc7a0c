package golang

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// credentials are private-module credentials from service bindings of type netrc or
// git-credentials (servicebinding.io). They are copied into a temporary HOME outside the
// layers and the app directory, used by go and git (for direct VCS fetches) and by the
// toolchain downloads, and removed after the build: they never reach an image or a cache.
type credentials struct {
	home  string
	names []string
	netrc map[string][2]string // machine → login, password ("" machine: default)
}

func readCredentials(bc sdk.BuildContext, home string) (*credentials, error) {
	c := &credentials{home: home, netrc: map[string][2]string{}}
	for _, b := range bc.Env.Bindings(bc.PlatformDir, "netrc") {
		src := firstExisting(b.Path, ".netrc", "netrc")
		if src == "" {
			return nil, fmt.Errorf("binding %s (type netrc) has no .netrc entry", b.Name)
		}
		data, err := appendFile(src, filepath.Join(home, ".netrc"))
		if err != nil {
			return nil, err
		}
		parseNetrc(data, c.netrc)
		c.names = append(c.names, b.Name+" (netrc)")
	}
	for _, b := range bc.Env.Bindings(bc.PlatformDir, "git-credentials") {
		src := firstExisting(b.Path, ".git-credentials", "credentials")
		if src == "" {
			return nil, fmt.Errorf("binding %s (type git-credentials) has no .git-credentials entry", b.Name)
		}
		if _, err := appendFile(src, filepath.Join(home, ".git-credentials")); err != nil {
			return nil, err
		}
		c.names = append(c.names, b.Name+" (git-credentials)")
	}
	if len(c.names) > 0 {
		bc.Log.Step("Private module credentials from binding %s (not kept in the image)", strings.Join(c.names, ", "))
	}
	return c, nil
}

// env is what go and git need to find the credentials.
func (c *credentials) env() []string {
	if c == nil || len(c.names) == 0 {
		return nil
	}
	return []string{"HOME=" + c.home, "NETRC=" + filepath.Join(c.home, ".netrc"),
		"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=credential.helper",
		"GIT_CONFIG_VALUE_0=store --file=" + filepath.Join(c.home, ".git-credentials"),
		"GIT_TERMINAL_PROMPT=0"}
}

func (c *credentials) remove() {
	if c != nil {
		os.RemoveAll(c.home)
	}
}

// wrap makes base send the netrc login of each request's host as basic auth, as the go
// command does for proxies and checksum databases.
func (c *credentials) wrap(base http.RoundTripper) http.RoundTripper {
	if c == nil || len(c.netrc) == 0 {
		return base
	}
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		lp, ok := c.netrc[req.URL.Hostname()]
		if !ok {
			lp, ok = c.netrc[""]
		}
		if ok && req.Header.Get("Authorization") == "" {
			req = req.Clone(req.Context())
			req.SetBasicAuth(lp[0], lp[1])
		}
		return base.RoundTrip(req)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// parseNetrc reads machine/default entries with login and password (macdef is skipped).
func parseNetrc(data []byte, into map[string][2]string) {
	f := strings.Fields(string(data))
	machine, login, password, in := "", "", "", false
	flush := func() {
		if in {
			if _, seen := into[machine]; !seen {
				into[machine] = [2]string{login, password}
			}
		}
		machine, login, password, in = "", "", "", false
	}
	for i := 0; i < len(f); i++ {
		switch f[i] {
		case "machine":
			flush()
			if i+1 < len(f) {
				i++
				machine, in = f[i], true
			}
		case "default":
			flush()
			in = true
		case "login":
			if i+1 < len(f) {
				i++
				login = f[i]
			}
		case "password":
			if i+1 < len(f) {
				i++
				password = f[i]
			}
		case "macdef":
			flush()
			return
		}
	}
	flush()
}

func firstExisting(dir string, names ...string) string {
	for _, n := range names {
		if p := filepath.Join(dir, n); exists(p) {
			return p
		}
	}
	return ""
}

// appendFile appends src to dst (mode 0600) and returns src's content.
func appendFile(src, dst string) ([]byte, error) {
	b, err := os.ReadFile(src)
	if err != nil {
		return nil, fmt.Errorf("read binding %s: %w", src, err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return b, err
}
