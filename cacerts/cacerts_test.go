package cacerts

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testCA makes a self-signed CA and a leaf it signed, both as crypto/x509 would see them.
func testCA(t *testing.T, name string) (caPEM []byte, leaf *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, ca, ca, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(der)
	lkey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	l := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "leaf"}, DNSNames: []string{"example.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	lder, err := x509.CreateCertificate(rand.Reader, l, caCert, &lkey.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ = x509.ParseCertificate(lder)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), leaf
}

func write(t *testing.T, p string, data []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRead(t *testing.T) {
	dir := t.TempDir()
	ca, _ := testCA(t, "corp")
	tests := []struct {
		name    string
		content []byte
		wantErr string
	}{
		{"pem", append([]byte("# corp proxy\n"), ca...), ""},
		{"der", func() []byte { b, _ := pem.Decode(ca); return b.Bytes }(), "is not PEM"},
		{"text", []byte("hello\n"), "is not PEM"},
		{"key", append(append([]byte{}, ca...), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}})...), `PEM block 2 is a "PRIVATE KEY"`},
		{"broken", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("nope")}), "certificate 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := write(t, filepath.Join(dir, tc.name+".pem"), tc.content)
			certs, err := Read([]string{p})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if string(certs[0].PEM) != string(ca) {
					t.Errorf("normalised PEM = %q, want the certificate block only", certs[0].PEM)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), p) {
				t.Errorf("err = %v, want %q naming %s", err, tc.wantErr, p)
			}
		})
	}
	if _, err := Read([]string{filepath.Join(dir, "missing.pem")}); err == nil || !strings.Contains(err.Error(), "missing.pem") {
		t.Errorf("missing file: err = %v", err)
	}
}

// verifies reports whether a bundle file makes crypto/x509 trust leaf.
func verifies(t *testing.T, bundle string, leaf *x509.Certificate) bool {
	t.Helper()
	data, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(data)
	_, err = leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "example.test"})
	return err == nil
}

func TestAssembleDebianBundleWithSymlinks(t *testing.T) {
	rootfs := t.TempDir()
	sysCA, sysLeaf := testCA(t, "system root")
	corpCA, corpLeaf := testCA(t, "corp proxy")
	write(t, filepath.Join(rootfs, "etc/ssl/certs/ca-certificates.crt"), sysCA)
	// /etc/ssl/cert.pem → certs/ca-certificates.crt (relative), as on Alpine-style images;
	// /etc/pki/tls/certs/ca-bundle.crt → absolute, escaping upwards: resolved inside rootfs.
	os.Symlink("certs/ca-certificates.crt", filepath.Join(rootfs, "etc/ssl/cert.pem"))
	os.MkdirAll(filepath.Join(rootfs, "etc/pki/tls/certs"), 0o755)
	os.Symlink("/../../../etc/ssl/certs/ca-certificates.crt", filepath.Join(rootfs, "etc/pki/tls/certs/ca-bundle.crt"))

	certs, err := Read([]string{write(t, filepath.Join(t.TempDir(), "corp.pem"), corpCA)})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := Assemble(rootfs, certs, filepath.Join(t.TempDir(), "out"), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Mounts) != 1 || tr.Mounts[0].Dest != "/etc/ssl/certs/ca-certificates.crt" {
		t.Fatalf("mounts = %+v, want the one real bundle", tr.Mounts)
	}
	if !verifies(t, tr.Mounts[0].Source, sysLeaf) || !verifies(t, tr.Mounts[0].Source, corpLeaf) {
		t.Error("combined bundle does not trust both the system root and the extra CA")
	}
	if tr.Bundle != "/etc/ssl/certs/ca-certificates.crt" || tr.Env["NODE_EXTRA_CA_CERTS"] != tr.Bundle || tr.Env["SSL_CERT_FILE"] != "" {
		t.Errorf("bundle %q env %v", tr.Bundle, tr.Env)
	}
	// The image's own bundle is untouched.
	if got, _ := os.ReadFile(filepath.Join(rootfs, "etc/ssl/certs/ca-certificates.crt")); string(got) != string(sysCA) {
		t.Error("the rootfs bundle was modified")
	}
}

func TestAssembleNoBundle(t *testing.T) {
	corpCA, corpLeaf := testCA(t, "corp proxy")
	certs, err := Read([]string{write(t, filepath.Join(t.TempDir(), "corp.pem"), corpCA)})
	if err != nil {
		t.Fatal(err)
	}
	for _, create := range []bool{true, false} {
		rootfs := t.TempDir()
		out := filepath.Join(t.TempDir(), "out")
		tr, err := Assemble(rootfs, certs, out, create)
		if err != nil {
			t.Fatal(err)
		}
		_, statErr := os.Stat(filepath.Join(rootfs, "etc/ssl/certs/ca-certificates.crt"))
		if create {
			if len(tr.Mounts) != 1 || statErr != nil || tr.Env["SSL_CERT_FILE"] != "/etc/ssl/certs/ca-certificates.crt" {
				t.Errorf("create: mounts %+v, mount point %v, env %v", tr.Mounts, statErr, tr.Env)
			}
		} else if len(tr.Mounts) != 1 || tr.Mounts[0].Dest != NoBundlePath || statErr == nil || tr.Env["SSL_CERT_FILE"] != NoBundlePath {
			t.Errorf("no create: mounts %+v, mount point %v, env %v", tr.Mounts, statErr, tr.Env)
		}
		if !verifies(t, filepath.Join(out, "bundle-0.crt"), corpLeaf) {
			t.Error("bundle does not trust the extra CA")
		}
	}
	if tr, err := Assemble(t.TempDir(), nil, t.TempDir(), true); tr != nil || err != nil {
		t.Errorf("no certs: %v %v, want nil, nil", tr, err)
	}
}
