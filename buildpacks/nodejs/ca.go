package nodejs

import (
	"os"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// SystemCABundle is where Debian/Ubuntu (ca-certificates) and the slipway stack keep the
// concatenated trusted roots, the file Go, curl and OpenSSL read.
const SystemCABundle = "/etc/ssl/certs/ca-certificates.crt"

// extraCACerts returns the NODE_EXTRA_CA_CERTS setting for the buildpack's own npm, yarn
// and pnpm runs, or "" when none should be added. Node.js trusts only the Mozilla list
// compiled into it, not the system store, so behind a TLS-inspecting proxy or with a private
// registry CA npm fails with "self-signed certificate in certificate chain" where Go and
// curl succeed. Pointing NODE_EXTRA_CA_CERTS at the system bundle makes npm trust what the
// rest of the build image trusts. A value the user set (build env or <platform>/env,
// platform.md, User-Provided Variables) is left alone; else SSL_CERT_FILE (the OpenSSL/Go override), else the
// system bundle, whichever exists first as a regular file.
func extraCACerts(env sdk.Environ, platformDir string, candidates ...string) string {
	if env.Config(platformDir, "NODE_EXTRA_CA_CERTS", "") != "" {
		return ""
	}
	if f := env.Config(platformDir, "SSL_CERT_FILE", ""); f != "" {
		candidates = append([]string{f}, candidates...)
	}
	for _, f := range candidates {
		if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() {
			return f
		}
	}
	return ""
}
