package debian_test

import (
	"archive/tar"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway/slipway/debian"
	"github.com/slipway/slipway/debian/debiantest"
)

func source(r *debiantest.Repo) debian.Source {
	return debian.Source{URL: r.URL, Suite: debiantest.Suite, Components: []string{debiantest.Component}, Architecture: debiantest.Arch, Keyring: r.Keyring}
}

// The happy path: verify InRelease, read the index, resolve, download (verified and
// cached), extract through the merged-/usr symlink.
func TestIndexDownloadInstall(t *testing.T) {
	repo := debiantest.New(t)
	repo.Add(debiantest.Deb{Name: "libhello", Version: "1.0", Files: map[string]string{"/usr/lib/libhello.so.1": "lib v1"}})
	repo.Add(debiantest.Deb{Name: "hello", Version: "2.0", Depends: "libhello (>= 1.0)", Files: map[string]string{"/bin/hello": "#!/bin/sh\necho hi\n", "/usr/bin/hi": "->hello"}, Scripts: map[string]string{"postinst": "#!/bin/sh\nexit 0\n"}})
	repo.Publish(nil)

	cache := t.TempDir()
	c := &debian.Client{CacheDir: cache}
	idx, err := c.Index(t.Context(), source(repo), nil)
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := idx.Resolve([]string{"hello"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != 2 || pkgs[0].Name != "libhello" || pkgs[1].Name != "hello" {
		t.Fatalf("resolved %v", pkgs)
	}
	paths, err := c.Download(t.Context(), pkgs)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range paths {
		if filepath.Base(p) != pkgs[i].SHA256+".deb" {
			t.Errorf("cache path %s is not named by SHA256", p)
		}
	}
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "usr/bin"), 0o755))
	must(t, os.Symlink("usr/bin", filepath.Join(dir, "bin")))
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	var debs []*debian.Deb
	for i, p := range pkgs {
		d, err := debian.InstallFile(t.Context(), paths[i], p.SHA256, root, debian.ExtractOptions{})
		if err != nil {
			t.Fatal(err)
		}
		debs = append(debs, d)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "usr/bin/hello")); err != nil || !strings.Contains(string(b), "echo hi") {
		t.Errorf("/bin/hello not extracted through the /bin → usr/bin link: %v", err)
	}
	if fi, err := os.Lstat(filepath.Join(dir, "bin")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("/bin symlink replaced: %v", err)
	}
	if l, _ := os.Readlink(filepath.Join(dir, "usr/bin/hi")); l != "hello" {
		t.Errorf("symlink /usr/bin/hi → %q", l)
	}
	if debs[1].Control.Get("Depends") != "libhello (>= 1.0)" || len(debs[1].Scripts) != 1 || debs[1].Scripts[0] != "postinst" {
		t.Errorf("control %v scripts %v", debs[1].Control, debs[1].Scripts)
	}
	if !strings.Contains(strings.Join(debs[1].Files, "\n"), "/bin/hello") {
		t.Errorf("file list %v", debs[1].Files)
	}

	// A second download is served from the cache: the repository may be gone.
	must(t, os.RemoveAll(filepath.Join(repo.Dir, "pool")))
	if _, err := c.Download(t.Context(), pkgs); err != nil {
		t.Errorf("cached download: %v", err)
	}
}

func TestInReleaseVerification(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, r *debiantest.Repo)
		wantErr []string
	}{
		{
			name: "signed by a key not in the keyring",
			setup: func(t *testing.T, r *debiantest.Repo) {
				other := debiantest.NewKey(t, "Mallory <m@example.invalid>")
				r.Publish(other)
			},
			wantErr: []string{"InRelease", "not in keyring", "test-archive.gpg", "signed by key"},
		},
		{
			name: "content changed after signing",
			setup: func(t *testing.T, r *debiantest.Repo) {
				r.Publish(nil)
				p := filepath.Join(r.Dir, "dists", debiantest.Suite, "InRelease")
				b, _ := os.ReadFile(p)
				must(t, os.WriteFile(p, []byte(strings.Replace(string(b), "Origin: Test", "Origin: Evil", 1)), 0o644))
			},
			wantErr: []string{"InRelease", "bad signature", "test-archive.gpg"},
		},
		{
			name: "unsigned",
			setup: func(t *testing.T, r *debiantest.Repo) {
				r.Publish(nil)
				p := filepath.Join(r.Dir, "dists", debiantest.Suite, "InRelease")
				must(t, os.WriteFile(p, []byte("Origin: Test\nSHA256:\n"), 0o644))
			},
			wantErr: []string{"InRelease", "not a clear-signed"},
		},
		{
			name: "keyring file missing",
			setup: func(t *testing.T, r *debiantest.Repo) {
				r.Publish(nil)
				must(t, os.Remove(r.Keyring))
			},
			wantErr: []string{"read keyring", "test-archive.gpg"},
		},
		{
			name: "index does not match the signed hash",
			setup: func(t *testing.T, r *debiantest.Repo) {
				r.Publish(nil)
				p := filepath.Join(r.Dir, "dists", debiantest.Suite, "main/binary-amd64/Packages.gz")
				must(t, os.WriteFile(p, []byte("tampered"), 0o644))
			},
			wantErr: []string{"refusing", "Packages.gz", "do not match the signed index"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			repo := debiantest.New(t)
			repo.Add(debiantest.Deb{Name: "hello", Version: "1", Files: map[string]string{"/usr/bin/hello": "x"}})
			tc.setup(t, repo)
			c := &debian.Client{CacheDir: t.TempDir()}
			_, err := c.Index(t.Context(), source(repo), nil)
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestDownloadHashMismatchRefused(t *testing.T) {
	repo := debiantest.New(t)
	deb := repo.Add(debiantest.Deb{Name: "hello", Version: "1", Files: map[string]string{"/usr/bin/hello": "x"}})
	repo.Publish(nil)
	cache := t.TempDir()
	c := &debian.Client{CacheDir: cache}
	idx, err := c.Index(t.Context(), source(repo), nil)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := idx.Lookup("hello")
	b, _ := os.ReadFile(deb)
	b[len(b)-1] ^= 0xff // same size, different bytes
	must(t, os.WriteFile(deb, b, 0o644))
	_, err = c.Download(t.Context(), []*debian.Package{p})
	var he *debian.HashMismatchError
	if !errors.As(err, &he) {
		t.Fatalf("err = %v, want *HashMismatchError", err)
	}
	if !strings.Contains(err.Error(), "hello") || !strings.Contains(err.Error(), "do not match") {
		t.Errorf("err = %q", err)
	}
	if m, _ := filepath.Glob(filepath.Join(cache, "*.deb")); len(m) != 0 { // only the index
		t.Errorf("cache holds %v; a refused download must not be kept", m)
	}
	// A corrupt file already in the cache is caught while extracting.
	must(t, os.WriteFile(filepath.Join(cache, p.SHA256+".deb"), b, 0o644))
	root, _ := os.OpenRoot(t.TempDir())
	defer root.Close()
	if _, err := debian.InstallFile(t.Context(), filepath.Join(cache, p.SHA256+".deb"), p.SHA256, root, debian.ExtractOptions{}); !errors.As(err, &he) {
		t.Errorf("install of a corrupt cached .deb: err = %v, want *HashMismatchError", err)
	}
}

func TestMirrorUnreachable(t *testing.T) {
	repo := debiantest.New(t)
	repo.Publish(nil)
	src := source(repo)
	src.URL = "http://127.0.0.1:1" // nothing listens on port 1
	_, err := (&debian.Client{CacheDir: t.TempDir()}).Index(t.Context(), src, nil)
	var me *debian.MirrorError
	if !errors.As(err, &me) || !strings.Contains(err.Error(), "mirror unreachable") || !strings.Contains(err.Error(), "127.0.0.1:1/dists/stable/InRelease") {
		t.Fatalf("err = %v, want a MirrorError naming the URL", err)
	}
	src = source(repo)
	src.Suite = "nosuch"
	_, err = (&debian.Client{CacheDir: t.TempDir()}).Index(t.Context(), src, nil)
	if !errors.As(err, &me) || !strings.Contains(err.Error(), "404") {
		t.Fatalf("err = %v, want a MirrorError with the HTTP status", err)
	}
}

// Hostile archives: nothing may land outside the root, device nodes are skipped.
func TestExtractHostileEntries(t *testing.T) {
	tests := []struct {
		name        string
		extra       []*tar.Header
		wantErr     string
		wantSkipped string
	}{
		{"dot-dot path", []*tar.Header{{Name: "./../../escape", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1}}, "leaves the root", ""},
		{"hard link out of the root", []*tar.Header{{Name: "./etc/shadow-link", Typeflag: tar.TypeLink, Linkname: "../../etc/shadow"}}, "leaves the root", ""},
		{"write through a symlink pointing outside", []*tar.Header{
			{Name: "./etc/", Typeflag: tar.TypeDir, Mode: 0o755},
			{Name: "./etc/evil", Typeflag: tar.TypeSymlink, Linkname: "/tmp"},
			{Name: "./etc/evil/pwned", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1},
		}, "etc/evil/pwned", ""},
		{"relative symlink climbing out", []*tar.Header{
			{Name: "./up", Typeflag: tar.TypeSymlink, Linkname: "../../../.."},
			{Name: "./up/pwned", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1},
		}, "up/pwned", ""},
		{"device node skipped", []*tar.Header{{Name: "./dev/sda", Typeflag: tar.TypeBlock, Mode: 0o600, Devmajor: 8}}, "", "/dev/sda"},
		{"fifo skipped", []*tar.Header{{Name: "./run/fifo", Typeflag: tar.TypeFifo, Mode: 0o600}}, "", "/run/fifo"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			repo := debiantest.New(t)
			deb := repo.Add(debiantest.Deb{Name: "evil", Version: "1", Files: map[string]string{"/usr/share/doc/evil": "x"}, Extra: tc.extra})
			outside := t.TempDir()
			dir := filepath.Join(outside, "a", "b", "rootfs")
			must(t, os.MkdirAll(dir, 0o755))
			root, err := os.OpenRoot(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer root.Close()
			f, _ := os.Open(deb)
			defer f.Close()
			d, err := debian.Extract(t.Context(), f, root, deb, debian.ExtractOptions{})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("err = %v, want one containing %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			} else if !strings.Contains(strings.Join(d.Skipped, " "), tc.wantSkipped) {
				t.Errorf("skipped %v, want %s", d.Skipped, tc.wantSkipped)
			}
			for _, p := range []string{filepath.Join(outside, "escape"), filepath.Join(outside, "a", "escape"), "/tmp/pwned", filepath.Join(outside, "pwned")} {
				if _, err := os.Lstat(p); err == nil {
					t.Errorf("%s was written outside the root", p)
					os.Remove(p)
				}
			}
			if _, err := os.Lstat(filepath.Join(dir, "dev/sda")); err == nil {
				t.Error("device node created")
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
