package mavenrepo

import (
	"archive/zip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/slipway/slipway/debian"
	"github.com/slipway/slipway/internal/pypiindex"
	"github.com/slipway/slipway/internal/testimages"
)

// MavenVersion is the version of bookworm's maven, which MavenDistribution packs.
const MavenVersion = "3.8.7"

var javaRuntime = []*debian.Package{{Name: "default-jre-headless", Version: "2:1.17-74", Provides: []debian.Relation{
	{Name: "java-runtime-headless"}, {Name: "java2-runtime-headless"}, {Name: "java5-runtime-headless"}, {Name: "java6-runtime-headless"},
	{Name: "java7-runtime-headless"}, {Name: "java8-runtime-headless"}, {Name: "java9-runtime-headless"}, {Name: "java11-runtime-headless"},
	{Name: "java17-runtime-headless"}}}}

var bookworm struct {
	once sync.Once
	idx  *debian.Index
	err  error
}

// debianRoot extracts the named packages and what they depend on (a Java runtime counts
// as installed: the build has its own JDK) into a new directory.
func debianRoot(t testing.TB, names ...string) string {
	t.Helper()
	if _, err := os.Stat(pypiindex.DebianKeyring); err != nil {
		t.Skip("Debian's archive keyring is not installed (apt-get install debian-archive-keyring)")
	}
	ctx := context.Background()
	client := &debian.Client{CacheDir: filepath.Join(testimages.CacheDir(t), "debs")}
	bookworm.once.Do(func() {
		bookworm.idx, bookworm.err = client.Index(ctx, debian.Source{URL: pypiindex.DebianMirror, Suite: pypiindex.DebianSuite,
			Components: []string{"main"}, Architecture: "amd64", Keyring: pypiindex.DebianKeyring}, nil)
	})
	if bookworm.err != nil {
		t.Fatal(bookworm.err)
	}
	pkgs, err := bookworm.idx.ResolveOnto(names, javaRuntime)
	if err != nil {
		t.Fatal(err)
	}
	paths, err := client.Download(ctx, pkgs)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	for _, p := range paths {
		if err := extractRepo(p, root); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	}
	return root
}

// MavenDistribution writes apache-maven-<MavenVersion>-bin.zip into dir from Debian's
// maven package and its dependencies, and returns its file name: a distribution for the
// Maven Wrapper to download from a server on 127.0.0.1 (tests reach no Maven Central).
// Debian ships Maven as links into /usr/share/java and /etc/maven; the zip holds the
// linked files themselves, laid out as upstream's distribution is.
func MavenDistribution(t testing.TB, dir string) string {
	t.Helper()
	root := debianRoot(t, "maven")
	name := "apache-maven-" + MavenVersion + "-bin.zip"
	z := newDistZip(t, root, filepath.Join(dir, name), "apache-maven-"+MavenVersion)
	z.addTree(t, "usr/share/maven", "")
	z.close(t)
	return name
}

type distZip struct {
	root, top string
	f         *os.File
	zw        *zip.Writer
}

func newDistZip(t testing.TB, root, file, top string) *distZip {
	t.Helper()
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	return &distZip{root: root, top: top, f: f, zw: zip.NewWriter(f)}
}

// resolve follows links inside the extracted root (Debian's are absolute or relative
// to /usr/share/java), as they would resolve on an installed system.
func (z *distZip) resolve(p string) (string, error) {
	for i := 0; i < 20; i++ {
		fi, err := os.Lstat(p)
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return p, nil
		}
		target, err := os.Readlink(p)
		if err != nil {
			return "", err
		}
		if filepath.IsAbs(target) {
			p = filepath.Join(z.root, target)
		} else {
			p = filepath.Join(filepath.Dir(p), target)
		}
		if !strings.HasPrefix(p, z.root) {
			return "", fmt.Errorf("%s leaves the root", p)
		}
	}
	return "", fmt.Errorf("%s: too many links", p)
}

// addTree adds the tree at root/dir under top/prefix, links resolved; dangling links
// (to packages outside the closure) are left out.
func (z *distZip) addTree(t testing.TB, dir, prefix string) {
	t.Helper()
	base := filepath.Join(z.root, dir)
	ents, err := os.ReadDir(base)
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	// Directory entries too, as upstream's zips have them.
	h := &zip.FileHeader{Name: strings.TrimSuffix(z.top+"/"+prefix, "/") + "/"}
	h.SetMode(fs.ModeDir | 0o755)
	if _, err := z.zw.CreateHeader(h); err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		real, err := z.resolve(filepath.Join(base, e.Name()))
		if err != nil {
			continue
		}
		fi, err := os.Stat(real)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(prefix+"/"+e.Name(), "/")
		if fi.IsDir() {
			rel, _ := filepath.Rel(z.root, real)
			z.addTree(t, rel, name)
			continue
		}
		z.addFile(t, real, name)
	}
}

func (z *distZip) addFile(t testing.TB, src, name string) {
	t.Helper()
	real, err := z.resolve(src)
	if err != nil {
		return
	}
	fi, err := os.Stat(real)
	if err != nil {
		t.Fatal(err)
	}
	h := &zip.FileHeader{Name: z.top + "/" + name, Method: zip.Deflate}
	h.SetMode(fi.Mode().Perm())
	w, err := z.zw.CreateHeader(h)
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(real)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if _, err := io.Copy(w, in); err != nil {
		t.Fatal(err)
	}
}

func (z *distZip) close(t testing.TB) {
	t.Helper()
	if err := z.zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := z.f.Close(); err != nil {
		t.Fatal(err)
	}
}
