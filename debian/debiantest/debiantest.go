// Package debiantest makes small signed apt repositories for tests: .debs built with
// dpkg-deb (or crafted by hand for hostile cases), a Packages index, an InRelease signed
// by a key generated in the test, served by httptest on 127.0.0.1.
package debiantest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Suite, Component and Arch are those of every test repository.
const (
	Suite     = "stable"
	Component = "main"
	Arch      = "amd64"
)

// Deb describes a test package.
type Deb struct {
	Name, Version string
	Arch          string // default "amd64"
	PreDepends    string
	Depends       string
	Provides      string
	Priority      string
	MultiArch     string
	// Files maps absolute paths to content; a value starting with "->" makes a symlink.
	Files map[string]string
	// Scripts maps maintainer script names (postinst, …) to their content.
	Scripts map[string]string
	// Extra are raw data.tar entries appended after Files (hostile cases); when set the
	// .deb is written in Go instead of with dpkg-deb.
	Extra []*tar.Header
}

// Repo is a test apt repository.
type Repo struct {
	t       testing.TB
	Dir     string
	Entity  *openpgp.Entity
	Keyring string // path of the binary public keyring
	URL     string
	index   map[string]string // name_version → Packages paragraph
	server  *httptest.Server
}

// New makes an empty repository, a signing key and its keyring file, and serves the
// directory on 127.0.0.1.
func New(t testing.TB) *Repo {
	t.Helper()
	r := &Repo{t: t, Dir: t.TempDir(), index: map[string]string{}}
	r.Entity = NewKey(t, "Slipway Test Archive <test@example.invalid>")
	r.Keyring = filepath.Join(t.TempDir(), "test-archive.gpg")
	WriteKeyring(t, r.Keyring, r.Entity)
	r.server = httptest.NewServer(http.FileServer(http.Dir(r.Dir)))
	t.Cleanup(r.server.Close)
	r.URL = r.server.URL
	return r
}

// NewKey generates an Ed25519 OpenPGP key.
func NewKey(t testing.TB, uid string) *openpgp.Entity {
	t.Helper()
	name, email, _ := strings.Cut(strings.TrimSuffix(uid, ">"), " <")
	e, err := openpgp.NewEntity(name, "", email, &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Time: func() time.Time { return time.Now().Add(-time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// WriteKeyring writes the public keys of es to path (binary format, like
// /usr/share/keyrings/*.gpg).
func WriteKeyring(t testing.TB, path string, es ...*openpgp.Entity) {
	t.Helper()
	var b bytes.Buffer
	for _, e := range es {
		if err := e.Serialize(&b); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Add builds d into the pool and indexes it; call Publish afterwards.
func (r *Repo) Add(d Deb) string {
	r.t.Helper()
	if d.Arch == "" {
		d.Arch = Arch
	}
	control := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: Test <test@example.invalid>\n", d.Name, d.Version, d.Arch)
	for _, f := range [][2]string{{"Pre-Depends", d.PreDepends}, {"Depends", d.Depends}, {"Provides", d.Provides}, {"Priority", d.Priority}, {"Multi-Arch", d.MultiArch}} {
		if f[1] != "" {
			control += f[0] + ": " + f[1] + "\n"
		}
	}
	control += "Description: test package " + d.Name + "\n"
	rel := fmt.Sprintf("pool/main/%s_%s_%s.deb", d.Name, strings.ReplaceAll(d.Version, ":", "%3a"), d.Arch)
	out := filepath.Join(r.Dir, rel)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if d.Extra != nil {
		writeRawDeb(r.t, out, control, d)
	} else {
		buildDeb(r.t, out, control, d)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		r.t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	r.index[d.Name+"_"+d.Version] = control + fmt.Sprintf("Filename: %s\nSize: %d\nSHA256: %s\n", rel, len(data), hex.EncodeToString(sum[:]))
	return out
}

func buildDeb(t testing.TB, out, control string, d Deb) {
	t.Helper()
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb not installed (apt-get install dpkg)")
	}
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "DEBIAN"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "DEBIAN/control"), []byte(control), 0o644))
	for name, body := range d.Scripts {
		must(t, os.WriteFile(filepath.Join(dir, "DEBIAN", name), []byte(body), 0o755))
	}
	for p, body := range d.Files {
		full := filepath.Join(dir, p)
		must(t, os.MkdirAll(filepath.Dir(full), 0o755))
		if target, ok := strings.CutPrefix(body, "->"); ok {
			must(t, os.Symlink(target, full))
			continue
		}
		mode := os.FileMode(0o644)
		if strings.Contains(p, "/bin/") {
			mode = 0o755
		}
		must(t, os.WriteFile(full, []byte(body), mode))
	}
	cmd := exec.Command("dpkg-deb", "--root-owner-group", "-Zxz", "--build", dir, out)
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb --build: %v\n%s", err, o)
	}
}

// writeRawDeb writes a .deb by hand so the data.tar can hold what dpkg-deb would refuse.
func writeRawDeb(t testing.TB, out, control string, d Deb) {
	t.Helper()
	tarGz := func(add func(tw *tar.Writer)) []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		tw := tar.NewWriter(zw)
		add(tw)
		must(t, tw.Close())
		must(t, zw.Close())
		return b.Bytes()
	}
	ctl := tarGz(func(tw *tar.Writer) {
		must(t, tw.WriteHeader(&tar.Header{Name: "./control", Mode: 0o644, Size: int64(len(control)), Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte(control))
		must(t, err)
	})
	data := tarGz(func(tw *tar.Writer) {
		must(t, tw.WriteHeader(&tar.Header{Name: "./", Mode: 0o755, Typeflag: tar.TypeDir}))
		names := make([]string, 0, len(d.Files))
		for n := range d.Files {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			must(t, tw.WriteHeader(&tar.Header{Name: "." + n, Mode: 0o644, Size: int64(len(d.Files[n])), Typeflag: tar.TypeReg}))
			_, err := tw.Write([]byte(d.Files[n]))
			must(t, err)
		}
		for _, h := range d.Extra {
			must(t, tw.WriteHeader(h))
			if h.Size > 0 {
				_, err := tw.Write(bytes.Repeat([]byte("x"), int(h.Size)))
				must(t, err)
			}
		}
	})
	var ar bytes.Buffer
	ar.WriteString("!<arch>\n")
	for _, m := range []struct {
		name string
		body []byte
	}{{"debian-binary", []byte("2.0\n")}, {"control.tar.gz", ctl}, {"data.tar.gz", data}} {
		fmt.Fprintf(&ar, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", m.name, 0, 0, 0, "100644", len(m.body))
		ar.Write(m.body)
		if len(m.body)%2 == 1 {
			ar.WriteByte('\n')
		}
	}
	must(t, os.WriteFile(out, ar.Bytes(), 0o644))
}

// Publish writes the Packages index (plain and gzip) and an InRelease signed with
// signer (r.Entity when nil).
func (r *Repo) Publish(signer *openpgp.Entity) {
	r.t.Helper()
	if signer == nil {
		signer = r.Entity
	}
	keys := make([]string, 0, len(r.index))
	for k := range r.index {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var pkgs bytes.Buffer
	for _, k := range keys {
		pkgs.WriteString(r.index[k])
		pkgs.WriteString("\n")
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err := zw.Write(pkgs.Bytes())
	must(r.t, err)
	must(r.t, zw.Close())
	dist := filepath.Join(r.Dir, "dists", Suite)
	bin := filepath.Join(dist, Component, "binary-"+Arch)
	must(r.t, os.MkdirAll(bin, 0o755))
	must(r.t, os.WriteFile(filepath.Join(bin, "Packages"), pkgs.Bytes(), 0o644))
	must(r.t, os.WriteFile(filepath.Join(bin, "Packages.gz"), gz.Bytes(), 0o644))
	release := fmt.Sprintf("Origin: Test\nSuite: %s\nCodename: %s\nDate: %s\nArchitectures: %s\nComponents: %s\nSHA256:\n",
		Suite, Suite, time.Now().UTC().Format(time.RFC1123), Arch, Component)
	for _, f := range []struct {
		name string
		data []byte
	}{{"Packages", pkgs.Bytes()}, {"Packages.gz", gz.Bytes()}} {
		sum := sha256.Sum256(f.data)
		release += fmt.Sprintf(" %s %d %s/binary-%s/%s\n", hex.EncodeToString(sum[:]), len(f.data), Component, Arch, f.name)
	}
	var signed bytes.Buffer
	w, err := clearsign.Encode(&signed, signer.PrivateKey, nil)
	must(r.t, err)
	_, err = w.Write([]byte(release))
	must(r.t, err)
	must(r.t, w.Close())
	must(r.t, os.WriteFile(filepath.Join(dist, "InRelease"), signed.Bytes(), 0o644))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
