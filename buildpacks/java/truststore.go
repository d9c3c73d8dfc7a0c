package java

import (
	"bytes"
	"crypto/sha1"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf16"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// systemBundle is the build image's CA bundle (ca-certificates), which holds the CAs
// given to `slipway build --ca-certificates` too.
const systemBundle = "/etc/ssl/certs/ca-certificates.crt"

// trustedCerts reads the certificates of the system bundle under root and of every
// ca-certificates binding (each file but type is PEM), without duplicates, sorted by
// subject so the truststore is the same bytes for the same certificates.
func trustedCerts(env sdk.Environ, platformDir, root string) ([]*x509.Certificate, []string, error) {
	var files []string
	if _, err := os.Stat(filepath.Join(root, systemBundle)); err == nil {
		files = append(files, filepath.Join(root, systemBundle))
	}
	var bindings []string
	for _, b := range env.Bindings(platformDir, "ca-certificates") {
		ents, err := os.ReadDir(b.Path)
		if err != nil {
			return nil, nil, fmt.Errorf("read binding %s: %w", b.Name, err)
		}
		for _, e := range ents {
			if e.Name() != "type" && !strings.HasPrefix(e.Name(), ".") {
				files = append(files, filepath.Join(b.Path, e.Name()))
			}
		}
		bindings = append(bindings, b.Name)
	}
	seen := map[string]bool{}
	var certs []*x509.Certificate
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, fmt.Errorf("read CA certificates %s: %w", f, err)
		}
		for {
			var blk *pem.Block
			blk, data = pem.Decode(data)
			if blk == nil {
				break
			}
			if blk.Type != "CERTIFICATE" {
				continue
			}
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				continue // one certificate Go cannot parse should not drop the others
			}
			if !seen[string(c.Raw)] {
				seen[string(c.Raw)] = true
				certs = append(certs, c)
			}
		}
	}
	sort.Slice(certs, func(i, j int) bool { return bytes.Compare(certs[i].Raw, certs[j].Raw) < 0 })
	return certs, bindings, nil
}

// jksTimestamp is the entries' creation date: fixed, so the file is reproducible
// (1980-01-01T00:00:01Z, the layers' mtime).
const jksTimestamp = 315532801000

// writeJKS writes certs as a JKS truststore with password "changeit", the format and
// password of the JDK's lib/security/cacerts: magic FEEDFEED, version 2, one
// trusted-certificate entry (tag 2, alias, date, "X.509", DER) per certificate, then the
// SHA-1 of the password (UTF-16BE), "Mighty Aphrodite" and everything before it.
func writeJKS(path string, certs []*x509.Certificate) error {
	var b bytes.Buffer
	u32 := func(v uint32) { binary.Write(&b, binary.BigEndian, v) }
	utf := func(s string) { binary.Write(&b, binary.BigEndian, uint16(len(s))); b.WriteString(s) }
	u32(0xFEEDFEED)
	u32(2)
	u32(uint32(len(certs)))
	for i, c := range certs {
		u32(2)
		utf(fmt.Sprintf("slipway-%03d", i))
		binary.Write(&b, binary.BigEndian, int64(jksTimestamp))
		utf("X.509")
		u32(uint32(len(c.Raw)))
		b.Write(c.Raw)
	}
	h := sha1.New()
	for _, r := range utf16.Encode([]rune("changeit")) {
		h.Write([]byte{byte(r >> 8), byte(r)})
	}
	h.Write([]byte("Mighty Aphrodite"))
	h.Write(b.Bytes())
	b.Write(h.Sum(nil))
	os.Remove(path) // Debian ships a link to /etc/ssl/certs/java/cacerts here
	return sdk.WriteFileAtomic(path, b.Bytes(), 0o644)
}

// installTruststore writes the JVM's lib/security/cacerts under home.
func installTruststore(env sdk.Environ, platformDir, root, home string, log *sdk.Logger) error {
	certs, bindings, err := trustedCerts(env, platformDir, root)
	if err != nil {
		return err
	}
	if err := writeJKS(filepath.Join(home, "lib", "security", "cacerts"), certs); err != nil {
		return fmt.Errorf("write the JVM truststore: %w", err)
	}
	from := systemBundle
	if len(bindings) > 0 {
		from += " and binding " + strings.Join(bindings, ", ")
	}
	log.Detail("Truststore: %d CA certificates from %s", len(certs), from)
	return nil
}
