package testimages

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/slipway/slipway/internal/mountpoint"
	"github.com/slipway/slipway/stack"
)

// The CNB user of the images. The run image uses another UID than the build image
// because platform.md, Build Image says it should: this makes every end-to-end test check that
// what buildpacks write stays readable by a different user at launch, as with the
// widely used Paketo base images.
const (
	UserName = "cnb"
	BuildUID = 1000
	BuildGID = 1000
	RunUID   = 1001
	RunGID   = 1000
	StackID  = "io.slipway.stacks.test-bookworm"
)

// Suite is the Debian release and debootstrap variant of the rootfs.
const (
	suite   = "bookworm"
	variant = "minbase"
	mirror  = "http://deb.debian.org/debian"
	// imagesVersion names the cached images; bump it whenever BuildAndRun changes what
	// it puts in them so old caches are not reused.
	imagesVersion = "v1"
)

// CacheDir is where fixtures are kept across test runs: $SLIPWAY_TEST_CACHE, or
// /var/tmp/slipway-test-cache.
func CacheDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("SLIPWAY_TEST_CACHE")
	if dir == "" {
		dir = "/var/tmp/slipway-test-cache"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("create test cache %s: %v", dir, err)
	}
	return dir
}

// Rootfs returns a Debian bookworm minbase rootfs made with debootstrap once per machine
// (about half a minute with a near mirror) and shared by every test: treat it as
// read-only and copy it to change it. The test is skipped when not running as root or
// when debootstrap is not installed and the rootfs is not cached yet.
func Rootfs(t testing.TB) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("testimages: needs root to build and use a Debian rootfs with real ownership")
	}
	cache := CacheDir(t)
	dest := filepath.Join(cache, "debian-"+suite+"-"+variant)
	if isDir(dest) {
		return dest
	}
	unlock := lock(t, filepath.Join(cache, "rootfs.lock"))
	defer unlock()
	if isDir(dest) { // another test binary made it while we waited
		return dest
	}
	deb, err := exec.LookPath("debootstrap")
	if err != nil {
		if deb, err = exec.LookPath("/usr/sbin/debootstrap"); err != nil {
			t.Skip("testimages: debootstrap is not installed (apt-get install debootstrap)")
		}
	}
	tmp := filepath.Join(cache, "rootfs.tmp")
	// A debootstrap killed midway (a test run interrupted) leaves its /proc and /sys
	// mounted in the target.
	if err := mountpoint.DetachUnder(tmp); err != nil {
		t.Fatalf("clean up stale %s: %v", tmp, err)
	}
	if err := os.RemoveAll(tmp); err != nil {
		t.Fatalf("remove stale %s: %v", tmp, err)
	}
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(tmp, filepath.Base(dest))
	var out bytes.Buffer
	cmd := exec.CommandContext(context.Background(), deb, "--variant="+variant, suite, target, mirror)
	cmd.Env = append(os.Environ(), "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("debootstrap %s into %s: %v\n%s", suite, target, err, tail(out.Bytes()))
	}
	if err := os.Rename(target, dest); err != nil {
		t.Fatal(err)
	}
	os.Remove(tmp)
	return dest
}

// BuildAndRun returns a build image (CNB user cnb 1000:1000, CNB_USER_ID/CNB_GROUP_ID in
// Env) and a run image (cnb 1001:1000) made from Rootfs with stack.FromRootfs. They are
// kept as OCI layouts under CacheDir, so only the first test run on a machine pays for
// them.
func BuildAndRun(t testing.TB) (build, run v1.Image) {
	t.Helper()
	rootfs := Rootfs(t)
	cache := CacheDir(t)
	dir := filepath.Join(cache, "images-"+imagesVersion)
	if !isDir(dir) {
		unlock := lock(t, filepath.Join(cache, "images.lock"))
		if !isDir(dir) {
			makeImages(t, rootfs, dir)
		}
		unlock()
	}
	return readImage(t, filepath.Join(dir, "build")), readImage(t, filepath.Join(dir, "run"))
}

func makeImages(t testing.TB, rootfs, dir string) {
	t.Helper()
	ctx := context.Background()
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	for _, img := range []struct {
		name     string
		uid, gid int
		build    bool
	}{
		{"build", BuildUID, BuildGID, true},
		{"run", RunUID, RunGID, false},
	} {
		rfs := filepath.Join(tmp, img.name+"-rootfs")
		copyTree(t, rootfs, rfs)
		scrub(t, rfs)
		if err := stack.AddUser(rfs, UserName, img.uid, img.gid); err != nil {
			t.Fatal(err)
		}
		i, err := stack.FromRootfs(ctx, rfs, stack.Config{
			UID: img.uid, GID: img.gid, Build: img.build,
			Maintainer: "Slipway tests", StackID: StackID, TempDir: tmp,
		})
		if err != nil {
			t.Fatal(err)
		}
		p, err := layout.Write(filepath.Join(tmp, img.name), empty.Index)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.AppendImage(i); err != nil {
			t.Fatalf("write %s image to %s: %v", img.name, p, err)
		}
		if err := os.RemoveAll(rfs); err != nil {
			t.Fatal(err)
		}
	}
	syscall.Sync()
	if err := os.Rename(tmp, dir); err != nil {
		t.Fatal(err)
	}
}

// scrub removes what debootstrap copied from the host or stamped with the time, so the
// images do not depend on the machine that made them, and the apt lists nobody needs.
func scrub(t testing.TB, rfs string) {
	t.Helper()
	for _, f := range []string{"etc/resolv.conf", "etc/hostname"} {
		if err := os.WriteFile(filepath.Join(rfs, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, g := range []string{"var/lib/apt/lists/*_*", "var/cache/apt/*.bin", "var/log/bootstrap.log", "var/cache/debconf/*-old"} {
		m, _ := filepath.Glob(filepath.Join(rfs, g))
		for _, p := range m {
			if err := os.RemoveAll(p); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	out, err := exec.Command("cp", "-a", "--reflink=auto", src, dst).CombinedOutput()
	if err != nil {
		t.Fatalf("copy %s to %s: %v\n%s", src, dst, err, out)
	}
}

func readImage(t testing.TB, dir string) v1.Image {
	t.Helper()
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatalf("read cached image %s: %v (remove it to rebuild)", dir, err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 1 {
		t.Fatalf("cached image %s has %d manifests, want 1 (remove it to rebuild)", dir, len(m.Manifests))
	}
	img, err := p.Image(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func lock(t testing.TB, p string) func() {
	t.Helper()
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("lock %s: %v", p, err)
	}
	return func() { f.Close() }
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func tail(b []byte) []byte {
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return b
}
