package cacerts

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
)

// Cert is one extra CA file: its path as the user named it and its certificates, PEM-encoded
// and normalised (one CERTIFICATE block each, nothing else).
type Cert struct {
	Path string
	PEM  []byte
}

// Read reads and checks the PEM files named by --ca-certificates or `slipway config
// ca-certificates`. Each must hold at least one parseable X.509 certificate and nothing
// but PEM blocks of certificates (a private key passed by mistake is refused, so it never
// reaches a sandbox). The error names the file at fault.
func Read(paths []string) ([]Cert, error) {
	var out []Cert
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read CA certificate file: %w", err)
		}
		c, err := parse(p, data)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func parse(path string, data []byte) (Cert, error) {
	var norm bytes.Buffer
	rest := data
	n := 0
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		n++
		if b.Type != "CERTIFICATE" {
			return Cert{}, fmt.Errorf("CA certificate file %s: PEM block %d is a %q, not a CERTIFICATE; pass only CA certificates", path, n, b.Type)
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return Cert{}, fmt.Errorf("CA certificate file %s: certificate %d: %w", path, n, err)
		}
		if err := pem.Encode(&norm, &pem.Block{Type: "CERTIFICATE", Bytes: b.Bytes}); err != nil {
			return Cert{}, err
		}
	}
	if n == 0 {
		return Cert{}, fmt.Errorf("CA certificate file %s is not PEM: want one or more -----BEGIN CERTIFICATE----- blocks (convert DER with `openssl x509 -inform der -in FILE -out FILE.pem`)", path)
	}
	return Cert{Path: path, PEM: norm.Bytes()}, nil
}
