package debian

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Release is a verified InRelease file: the repository's signed table of contents.
type Release struct {
	Suite, Codename string
	Date            time.Time
	ValidUntil      time.Time // zero when the repository sets no Valid-Until
	// Files maps a path relative to dists/<suite>/ to its SHA256 and size.
	Files map[string]FileHash
}

// FileHash is the SHA256 (hex) and size of a file named in a Release.
type FileHash struct {
	SHA256 string
	Size   int64
}

// ReadKeyring reads an OpenPGP public keyring, binary (.gpg) or ASCII-armoured (.asc).
func ReadKeyring(path string) (openpgp.EntityList, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read keyring %s: %w", path, err)
	}
	var keys openpgp.EntityList
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN")) {
		keys, err = openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
	} else {
		keys, err = openpgp.ReadKeyRing(bytes.NewReader(data))
	}
	if err != nil {
		return nil, fmt.Errorf("read keyring %s: %w", path, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("read keyring %s: no public keys in it", path)
	}
	return keys, nil
}

// VerifyInRelease checks the clear-signed InRelease data against keyring and parses
// it. name (the URL) and keyringName (the file) appear in errors. now is the clock used
// for key expiry and Valid-Until.
func VerifyInRelease(data []byte, keyring openpgp.EntityList, name, keyringName string, now time.Time) (*Release, error) {
	block, _ := clearsign.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("verify %s: not a clear-signed OpenPGP message; refusing an unsigned index", name)
	}
	cfg := &packet.Config{Time: func() time.Time { return now }}
	if _, err := block.VerifySignature(keyring, cfg); err != nil {
		if errors.Is(err, pgperrors.ErrUnknownIssuer) {
			return nil, fmt.Errorf("verify %s: signed by key %s, which is not in keyring %s; add the repository's signing key to the keyring", name, issuers(data), keyringName)
		}
		return nil, fmt.Errorf("verify %s: bad signature by key %s (keyring %s): %w", name, issuers(data), keyringName, err)
	}
	// Only the signed plaintext is trusted from here on.
	var rel *Release
	err := ReadParagraphs(bytes.NewReader(block.Plaintext), name, func(p Paragraph) error {
		if rel != nil {
			return nil
		}
		var err error
		rel, err = parseRelease(p)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", name, err)
	}
	if rel == nil {
		return nil, fmt.Errorf("parse %s: empty release file", name)
	}
	if !rel.ValidUntil.IsZero() && now.After(rel.ValidUntil) {
		return nil, fmt.Errorf("verify %s: expired on %s (Valid-Until); the mirror is stale or replaying an old index", name, rel.ValidUntil.Format(time.RFC1123))
	}
	return rel, nil
}

// issuers lists the key ids that signed the clear-signed data, for error messages.
func issuers(data []byte) string {
	block, _ := clearsign.Decode(data)
	if block == nil || block.ArmoredSignature == nil {
		return "(unknown)"
	}
	var ids []string
	r := packet.NewReader(block.ArmoredSignature.Body)
	for {
		p, err := r.Next()
		if err != nil {
			break
		}
		if sig, ok := p.(*packet.Signature); ok {
			switch {
			case sig.IssuerFingerprint != nil:
				ids = append(ids, fmt.Sprintf("%X", sig.IssuerFingerprint))
			case sig.IssuerKeyId != nil:
				ids = append(ids, fmt.Sprintf("%016X", *sig.IssuerKeyId))
			}
		}
	}
	if len(ids) == 0 {
		return "(unknown)"
	}
	return strings.Join(ids, ", ")
}

func parseRelease(p Paragraph) (*Release, error) {
	rel := &Release{Suite: p.Get("Suite"), Codename: p.Get("Codename"), Files: map[string]FileHash{}}
	if d := p.Get("Date"); d != "" {
		rel.Date, _ = parseReleaseTime(d)
	}
	if v := p.Get("Valid-Until"); v != "" {
		t, err := parseReleaseTime(v)
		if err != nil {
			return nil, fmt.Errorf("Valid-Until %q: %w", v, err)
		}
		rel.ValidUntil = t
	}
	for _, l := range strings.Split(p.Get("SHA256"), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			continue
		}
		size, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("SHA256 entry %q: bad size", l)
		}
		rel.Files[f[2]] = FileHash{SHA256: strings.ToLower(f[0]), Size: size}
	}
	if len(rel.Files) == 0 {
		return nil, fmt.Errorf("no SHA256 file list; only SHA256-hashed repositories are supported")
	}
	return rel, nil
}

func parseReleaseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC1123Z, time.RFC1123, "Mon, 2 Jan 2006 15:04:05 MST", "Mon, 2 Jan 2006 15:04:05 -0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("unrecognised date %q", s)
}

// readAllLimit reads at most limit bytes from r; Release files are small.
func readAllLimit(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return b, nil
}
