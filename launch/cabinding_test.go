package launch

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testPEM = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"

func TestApplyCABindings(t *testing.T) {
	root := t.TempDir()
	mk := func(name, typ string, files map[string]string) {
		dir := filepath.Join(root, name)
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "type"), []byte(typ), 0o644)
		for n, c := range files {
			os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644)
		}
	}
	mk("corp", "ca-certificates\n", map[string]string{"proxy.pem": testPEM, "provider": "corp", "notes.txt": "not a cert"})
	mk("db", "postgresql", map[string]string{"ca.pem": "-----BEGIN CERTIFICATE-----\nDBCA\n-----END CERTIFICATE-----\n"})
	system := filepath.Join(t.TempDir(), "system.crt")
	os.WriteFile(system, []byte("SYSTEM ROOTS\n"), 0o644)

	tests := []struct {
		name     string
		env      []string
		wantFile bool
	}{
		{"no binding root", []string{"SSL_CERT_FILE=" + system}, false},
		{"binding root", []string{"SERVICE_BINDING_ROOT=" + root, "SSL_CERT_FILE=" + system}, true},
		{"no ca binding", []string{"SERVICE_BINDING_ROOT=" + filepath.Join(root, "db")}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := NewEnv(tc.env, nil, nil)
			tmp := t.TempDir()
			var warnings []string
			applyCABindings(env, tmp, func(f string, a ...any) { warnings = append(warnings, f) })
			got := env.Get("NODE_EXTRA_CA_CERTS")
			if !tc.wantFile {
				if got != "" {
					t.Errorf("NODE_EXTRA_CA_CERTS = %q, want unset", got)
				}
				return
			}
			for _, k := range caBundleEnv {
				if env.Get(k) != got || !strings.HasPrefix(got, tmp) {
					t.Errorf("%s = %q, want the bundle under %s", k, env.Get(k), tmp)
				}
			}
			b, err := os.ReadFile(got)
			if err != nil {
				t.Fatal(err)
			}
			if want := "SYSTEM ROOTS\n" + testPEM; string(b) != want {
				t.Errorf("bundle = %q, want %q (system first, then only the ca-certificates binding's PEM files)", b, want)
			}
			// A second start reuses the same file.
			env2 := NewEnv(tc.env, nil, nil)
			applyCABindings(env2, tmp, func(string, ...any) {})
			if env2.Get("SSL_CERT_FILE") != got {
				t.Errorf("second start: %q, want %q", env2.Get("SSL_CERT_FILE"), got)
			}
			if len(warnings) > 0 {
				t.Errorf("warnings: %v", warnings)
			}
		})
	}
}
