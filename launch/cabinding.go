package launch

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// CABindingType is the service binding type whose entries are PEM CA certificates the
// process must trust (docs/platform-flags.md): the platform mounts such a binding under
// SERVICE_BINDING_ROOT at run time, as it does at build time, and no CA enters the image.
const CABindingType = "ca-certificates"

// systemCABundles are where distributions keep the trusted roots (the list of the cacerts
// package, repeated here because the launcher must not link crypto/x509 just for it).
var systemCABundles = []string{
	"/etc/ssl/certs/ca-certificates.crt",
	"/etc/pki/tls/certs/ca-bundle.crt",
	"/etc/ssl/ca-bundle.pem",
	"/etc/pki/tls/cacert.pem",
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
	"/etc/ssl/cert.pem",
}

// caBundleEnv are the variables pointed at the combined bundle: OpenSSL and Go
// (SSL_CERT_FILE), curl, Node.js and Python requests, which ship or pick their own roots.
var caBundleEnv = []string{"SSL_CERT_FILE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE"}

// applyCABindings makes the process trust the certificates of every ca-certificates binding
// under SERVICE_BINDING_ROOT: it writes the image's bundle (or SSL_CERT_FILE's) followed by
// them to a file under tmpDir, named by its content, and points caBundleEnv at it. Without
// such a binding it does nothing. A binding it cannot read is a warning, not a failed start.
func applyCABindings(env *Env, tmpDir string, warn func(format string, args ...any)) {
	root := env.Get("SERVICE_BINDING_ROOT")
	if root == "" {
		return
	}
	var extra bytes.Buffer
	bindings, _ := os.ReadDir(root)
	for _, b := range bindings {
		dir := filepath.Join(root, b.Name())
		typ, err := os.ReadFile(filepath.Join(dir, "type"))
		if err != nil || strings.TrimSpace(string(typ)) != CABindingType {
			continue
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			warn("ca-certificates binding %s: %v", dir, err)
			continue
		}
		for _, e := range entries {
			// Kubernetes projects secrets through ..data links; "type"/"provider" are metadata.
			if n := e.Name(); n == "type" || n == "provider" || strings.HasPrefix(n, ".") {
				continue
			}
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil || !bytes.Contains(data, []byte("-----BEGIN CERTIFICATE-----")) {
				continue
			}
			extra.Write(bytes.TrimRight(data, "\n"))
			extra.WriteByte('\n')
		}
	}
	if extra.Len() == 0 {
		return
	}
	var bundle bytes.Buffer
	candidates := systemCABundles
	if f := env.Get("SSL_CERT_FILE"); f != "" {
		candidates = append([]string{f}, candidates...)
	}
	for _, f := range candidates {
		if data, err := os.ReadFile(f); err == nil {
			bundle.Write(bytes.TrimRight(data, "\n"))
			bundle.WriteByte('\n')
			break
		}
	}
	bundle.Write(extra.Bytes())
	sum := sha256.Sum256(bundle.Bytes())
	path := filepath.Join(tmpDir, "slipway-ca-"+hex.EncodeToString(sum[:8])+".crt")
	if err := writeOnce(path, bundle.Bytes()); err != nil {
		warn("ca-certificates binding: %v; the process trusts only the image's CAs", err)
		return
	}
	for _, k := range caBundleEnv {
		env.Set(k, path)
	}
}

// writeOnce writes data to path unless it is there: a temp file renamed into place, so
// processes starting together never read a half-written bundle.
func writeOnce(path string, data []byte) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".slipway-ca-*")
	if err != nil {
		return fmt.Errorf("write CA bundle: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write CA bundle: %w", err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return fmt.Errorf("write CA bundle: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write CA bundle: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write CA bundle: %w", err)
	}
	return nil
}
