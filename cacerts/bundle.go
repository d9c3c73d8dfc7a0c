package cacerts

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// SystemBundles are the files in which Linux distributions keep the concatenated trusted
// roots that OpenSSL, curl, Go, git and the distribution's Python read by default: Debian
// and Ubuntu, Fedora/RHEL, openSUSE, older RHEL, the RHEL extracted bundle, Alpine.
var SystemBundles = []string{
	"/etc/ssl/certs/ca-certificates.crt",
	"/etc/pki/tls/certs/ca-bundle.crt",
	"/etc/ssl/ca-bundle.pem",
	"/etc/pki/tls/cacert.pem",
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
	"/etc/ssl/cert.pem",
}

// NoBundlePath is where the bundle goes in a sandbox whose root has no system bundle and
// must not be written: the sandbox's own /tmp, a tmpfs.
const NoBundlePath = "/tmp/slipway-ca-certificates.crt"

// Mount is one assembled bundle on the host (Source) to bind read-only at Dest inside the
// sandbox, over the image's own bundle.
type Mount struct {
	Source, Dest string
}

// Trust is how a sandbox made from one build image comes to trust the extra CAs.
type Trust struct {
	// Mounts replace every system bundle the image has with that bundle plus the extra CAs.
	Mounts []Mount
	// Bundle is the combined bundle's path inside the sandbox.
	Bundle string
	// Env are the variables for tools that ignore the system bundle and ship their own
	// roots: Node.js (compiled-in Mozilla list), Python requests and pip (certifi). Each
	// points at Bundle, so they trust the system's roots plus the extra CAs.
	Env map[string]string
}

// Assemble writes into dir, for each of SystemBundles the rootfs has (symlinks resolved
// inside the rootfs, each real file once), that bundle followed by the certificates, and
// returns the mounts that put them in place. A rootfs without any bundle gets
// /etc/ssl/certs/ca-certificates.crt holding only the extra CAs, with an empty file made
// there in the rootfs for the bind to land on (a read-only rootfs cannot grow one); without
// createMountPoint (a rootfs that must not be written, such as the host's) the bundle goes
// to NoBundlePath on the sandbox's tmpfs instead. Either way SSL_CERT_FILE names it for
// OpenSSL and Go. No certificates: nil, and nothing is written.
func Assemble(rootfs string, certs []Cert, dir string, createMountPoint bool) (*Trust, error) {
	if len(certs) == 0 {
		return nil, nil
	}
	var extra bytes.Buffer
	for _, c := range certs {
		extra.Write(c.PEM)
	}
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		return nil, fmt.Errorf("open build image rootfs %s: %w", rootfs, err)
	}
	defer root.Close()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create CA bundle dir: %w", err)
	}
	t := &Trust{Env: map[string]string{}}
	seen := map[string]bool{}
	for _, b := range SystemBundles {
		real, err := resolve(root, b)
		if err != nil || seen[real] {
			continue
		}
		fi, err := root.Stat(strings.TrimPrefix(real, "/"))
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		seen[real] = true
		orig, err := root.ReadFile(strings.TrimPrefix(real, "/"))
		if err != nil {
			return nil, fmt.Errorf("read the build image's CA bundle %s: %w", real, err)
		}
		src := filepath.Join(dir, fmt.Sprintf("bundle-%d.crt", len(t.Mounts)))
		if err := writeBundle(src, orig, extra.Bytes()); err != nil {
			return nil, err
		}
		t.Mounts = append(t.Mounts, Mount{Source: src, Dest: real})
	}
	if len(t.Mounts) == 0 {
		dest := SystemBundles[0]
		src := filepath.Join(dir, "bundle-0.crt")
		if err := writeBundle(src, nil, extra.Bytes()); err != nil {
			return nil, err
		}
		if createMountPoint {
			if err := makeMountPoint(root, dest); err != nil {
				return nil, err
			}
		} else {
			dest = NoBundlePath
		}
		t.Mounts = append(t.Mounts, Mount{Source: src, Dest: dest})
		t.Env["SSL_CERT_FILE"] = dest
	}
	t.Bundle = t.Mounts[0].Dest
	for _, k := range []string{"NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE", "PIP_CERT"} {
		t.Env[k] = t.Bundle
	}
	return t, nil
}

func writeBundle(dest string, orig, extra []byte) error {
	var b bytes.Buffer
	b.Write(orig)
	if len(orig) > 0 && !bytes.HasSuffix(orig, []byte("\n")) {
		b.WriteByte('\n')
	}
	b.Write(extra)
	if err := os.WriteFile(dest, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write CA bundle: %w", err)
	}
	return nil
}

func makeMountPoint(root *os.Root, dest string) error {
	rel := strings.TrimPrefix(dest, "/")
	if err := root.MkdirAll(path.Dir(rel), 0o755); err != nil {
		return fmt.Errorf("create CA bundle mount point %s in the build image rootfs: %w", dest, err)
	}
	f, err := root.OpenFile(rel, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("create CA bundle mount point %s in the build image rootfs: %w", dest, err)
	}
	return f.Close()
}

// resolve follows symlinks in p component by component as the sandbox would see them,
// with the rootfs as /: absolute targets restart at the rootfs, never at the host's /.
func resolve(root *os.Root, p string) (string, error) {
	done := "/"
	todo := strings.Split(strings.Trim(p, "/"), "/")
	for hops := 0; len(todo) > 0; {
		c := todo[0]
		todo = todo[1:]
		if c == "" || c == "." {
			continue
		}
		if c == ".." {
			done = path.Dir(done)
			continue
		}
		next := path.Join(done, c)
		fi, err := root.Lstat(strings.TrimPrefix(next, "/"))
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			done = next
			continue
		}
		if hops++; hops > 40 {
			return "", errors.New("too many levels of symbolic links")
		}
		target, err := root.Readlink(strings.TrimPrefix(next, "/"))
		if err != nil {
			return "", err
		}
		if path.IsAbs(target) {
			done = "/"
		}
		todo = append(strings.Split(strings.Trim(target, "/"), "/"), todo...)
	}
	return done, nil
}
