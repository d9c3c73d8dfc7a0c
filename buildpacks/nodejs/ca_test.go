package nodejs

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// TestExtraCACerts: npm trusts the build image's CA bundle unless the user configured
// NODE_EXTRA_CA_CERTS, in the build env or as a <platform>/env file (platform.md, User-Provided Variables).
func TestExtraCACerts(t *testing.T) {
	dir := t.TempDir()
	bundle := filepath.Join(dir, "ca-certificates.crt")
	custom := filepath.Join(dir, "corp.pem")
	for _, f := range []string{bundle, custom} {
		if err := os.WriteFile(f, []byte("-----BEGIN CERTIFICATE-----\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	missing := filepath.Join(dir, "absent.crt")
	cases := []struct {
		name        string
		env         sdk.Environ
		platformEnv map[string]string
		candidates  []string
		want        string
	}{
		{"system bundle present", sdk.Environ{}, nil, []string{bundle}, bundle},
		{"no system bundle", sdk.Environ{}, nil, []string{missing}, ""},
		{"directory is not a bundle", sdk.Environ{}, nil, []string{dir}, ""},
		{"user set in build env", sdk.Environ{"NODE_EXTRA_CA_CERTS": custom}, nil, []string{bundle}, ""},
		{"user set in platform env", sdk.Environ{}, map[string]string{"NODE_EXTRA_CA_CERTS": custom}, []string{bundle}, ""},
		{"SSL_CERT_FILE wins over system bundle", sdk.Environ{"SSL_CERT_FILE": custom}, nil, []string{bundle}, custom},
		{"missing SSL_CERT_FILE falls back", sdk.Environ{"SSL_CERT_FILE": missing}, nil, []string{bundle}, bundle},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			platform := t.TempDir()
			for k, v := range tc.platformEnv {
				if err := os.MkdirAll(filepath.Join(platform, "env"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(platform, "env", k), []byte(v), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if got := extraCACerts(tc.env, platform, tc.candidates...); got != tc.want {
				t.Errorf("extraCACerts = %q, want %q", got, tc.want)
			}
		})
	}
}
