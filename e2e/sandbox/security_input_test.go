package sandbox

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/slipway/slipway/imagestore"
	"github.com/slipway/slipway/internal/e2ekit"
	"github.com/slipway/slipway/internal/testimages"
	"github.com/slipway/slipway/untar/untartest"
)

// Attacks by buildpacks and build images on what Slipway reads, extracts and turns into
// paths on the host (issue "The sandbox must hold", findings 2, 3, 5, 6, 7, 8). Each does
// the attack for real and asserts a clear error and an unchanged host.

// evilBuildpack writes a buildpack (api 0.10) whose bin/build runs script.
func evilBuildpack(e *e2ekit.Env, id, version, script string) string {
	t := e.T
	t.Helper()
	dir := filepath.Join(e.TempDir(), "bp")
	e2ekit.WriteFile(t, filepath.Join(dir, "buildpack.toml"), fmt.Sprintf("api = \"0.10\"\n[buildpack]\nid = %q\nversion = %q\n[[stacks]]\nid = \"*\"\n", id, version))
	e2ekit.WriteFile(t, filepath.Join(dir, "bin", "detect"), "#!/usr/bin/env bash\nexit 0\n")
	e2ekit.WriteFile(t, filepath.Join(dir, "bin", "build"), "#!/usr/bin/env bash\nset -euo pipefail\n"+script)
	for _, f := range []string{"detect", "build"} {
		if err := os.Chmod(filepath.Join(dir, "bin", f), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// webProcess ends a build script: it declares the image's web process.
const webProcess = `cat > "$CNB_LAYERS_DIR/launch.toml" <<'TOML'
[[processes]]
  type = "web"
  command = ["true"]
  default = true
TOML
`

// canary is a host directory with a file whose content must survive the attack.
func canary(e *e2ekit.Env) (dir, file string) {
	t := e.T
	t.Helper()
	dir = filepath.Join(e.TempDir(), "victim")
	file = filepath.Join(dir, "canary.txt")
	e2ekit.WriteFile(t, file, "untouched")
	e.Reown()
	return dir, file
}

func assertCanary(t *testing.T, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil || string(b) != "untouched" {
		t.Errorf("host canary %s changed: %q, %v", file, b, err)
	}
}

func assertFailedWith(t *testing.T, out string, code int, want ...string) {
	t.Helper()
	if code == 0 {
		t.Fatalf("the attack succeeded (exit 0):\n%s", out)
	}
	if strings.Contains(out, "goroutine ") || strings.Contains(out, "panic:") {
		t.Fatalf("stack trace:\n%s", out)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("error lacks %q:\n%s", w, out)
		}
	}
}

// Finding 2: a version that climbs out of the buildpacks directory replaced or deleted any
// host directory.
func TestSecurityVersionPathTraversal(t *testing.T) { asEachUser(t, versionPathTraversal) }

func versionPathTraversal(t *testing.T, e *e2ekit.Env) {
	victim, file := canary(e)
	version := "1.0.0-/../../../../../../../../../../../.." + victim
	bp := evilBuildpack(e, "evil/version", version, "exit 0\n")
	out, code := e.Slipway("build", "evil-version", "--path", e2ekit.App("hello"), "--builder", e.Builder, "--buildpack", bp)
	assertFailedWith(t, out, code, "evil/version", "not a semantic version", bp)
	assertCanary(t, file)
	ents, _ := os.ReadDir(victim)
	if len(ents) != 1 {
		t.Errorf("the victim dir changed: %v", ents)
	}
}

// Findings 7 and 8: process type ".." and a layer named ".." are refused, naming the
// buildpack and the value.
func TestSecurityDotDotProcessTypeAndLayer(t *testing.T) { asEachUser(t, dotDotProcessTypeAndLayer) }

func dotDotProcessTypeAndLayer(t *testing.T, e *e2ekit.Env) {
	t.Run("process type", func(t *testing.T) {
		bp := evilBuildpack(e, "evil/process", "1.0.0", `cat > "$CNB_LAYERS_DIR/launch.toml" <<'TOML'
[[processes]]
  type = ".."
  command = ["true"]
  default = true
TOML
`)
		out, code := e.Slipway("build", "evil-process", "--path", e2ekit.App("hello"), "--builder", e.Builder, "--buildpack", bp)
		assertFailedWith(t, out, code, "evil/process", `process type ".."`)
	})
	t.Run("layer", func(t *testing.T) {
		// Another buildpack's build-only layer must not end up in the image through "..".
		bp := evilBuildpack(e, "evil/layer", "1.0.0", `mkdir -p "$CNB_LAYERS_DIR/secret"
echo build-only > "$CNB_LAYERS_DIR/secret/data"
printf '[types]\nbuild = true\n' > "$CNB_LAYERS_DIR/secret.toml"
printf '[types]\nlaunch = true\n' > "$CNB_LAYERS_DIR/...toml"
`+webProcess)
		out, code := e.Slipway("build", "evil-layer", "--path", e2ekit.App("hello"), "--builder", e.Builder, "--buildpack", bp)
		assertFailedWith(t, out, code, "evil/layer", `layer name ".."`)
		s, err := imagestore.Open(e.Store)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Image("evil-layer"); err == nil {
			t.Error("an image was written")
		}
	})
}

// Finding 5: a buildpack's store.toml symlinked to a host TOML file; the exporter (on the
// host) must not read it into the image's labels.
func TestSecurityStoreTomlSymlinkToHost(t *testing.T) { asEachUser(t, storeTomlSymlinkToHost) }

func storeTomlSymlinkToHost(t *testing.T, e *e2ekit.Env) {
	hostTOML := filepath.Join(e.TempDir(), "host.toml") // readable by a rootless slipway
	e2ekit.WriteFile(t, hostTOML, "[metadata]\nsecret = \"host-secret-6d1f\"\n")
	bp := evilBuildpack(e, "evil/store", "1.0.0", fmt.Sprintf(`ln -sf %q "$CNB_LAYERS_DIR/store.toml"
`, hostTOML)+webProcess)
	out, code := e.Slipway("build", "evil-store", "--path", e2ekit.App("hello"), "--builder", e.Builder, "--buildpack", bp)
	assertFailedWith(t, out, code, "evil/store", "store.toml", "symbolic link")
	if strings.Contains(out, "host-secret-6d1f") {
		t.Errorf("the host file's content reached the output:\n%s", out)
	}
	s, err := imagestore.Open(e.Store)
	if err != nil {
		t.Fatal(err)
	}
	if img, err := s.Image("evil-store"); err == nil {
		cf, _ := img.ConfigFile()
		if strings.Contains(fmt.Sprint(cf.Config.Labels), "host-secret-6d1f") {
			t.Error("the host file landed in the image labels")
		}
	}
}

// Finding 3: a build image whose /cnb/build-config/env is a symlink to a host directory
// must not expose that directory's files to buildpacks.
func TestSecurityBuildConfigEnvSymlinkToHost(t *testing.T) {
	asEachUser(t, buildConfigEnvSymlinkToHost)
}

func buildConfigEnvSymlinkToHost(t *testing.T, e *e2ekit.Env) {
	hostDir := e.TempDir()
	e2ekit.WriteFile(t, filepath.Join(hostDir, "REGISTRY_AUTH"), "host-secret-83ac")
	e.Reown()
	build, _ := testimages.BuildAndRun(t)
	evil := appendLayer(t, build, []tarEntry{
		{name: "cnb/", typ: tar.TypeDir},
		{name: "cnb/build-config/", typ: tar.TypeDir},
		{name: "cnb/build-config/env", typ: tar.TypeSymlink, link: hostDir},
	})
	writeBuilder(e, t, evil, "slipway-test/evil-build-config:1")
	bp := evilBuildpack(e, "evil/peek", "1.0.0", `echo "peek: ${REGISTRY_AUTH:-unset}"
cat /cnb/build-config/env/* 2>/dev/null || true
echo
`+webProcess)
	out, code := e.Slipway("build", "evil-build-config", "--path", e2ekit.App("hello"), "--builder", e.Builder, "--buildpack", bp)
	if code != 0 {
		t.Fatalf("build failed (exit %d):\n%s", code, out)
	}
	if strings.Contains(out, "host-secret-83ac") {
		t.Errorf("a host file reached the buildpack through the image's symlink:\n%s", out)
	}
	if !strings.Contains(out, "peek: unset") {
		t.Errorf("the buildpack did not run:\n%s", out)
	}
}

// Finding 6: a few hundred bytes claiming a 1 GiB sparse file. A buildpack archive is
// refused; a build-image layer is written with holes and counted against the budget.
func TestSecuritySparseArchiveAndLayer(t *testing.T) { asEachUser(t, sparseArchiveAndLayer) }

func sparseArchiveAndLayer(t *testing.T, e *e2ekit.Env) {
	t.Run("buildpack archive", func(t *testing.T) {
		toml := "api = \"0.10\"\n[buildpack]\nid = \"evil/sparse\"\nversion = \"1.0.0\"\n"
		tgz := untartest.Gzip(untartest.SparseTar("bin/build", 1<<30, map[string]string{"buildpack.toml": toml}))
		archive := filepath.Join(e.TempDir(), "evil.tgz")
		if err := os.WriteFile(archive, tgz, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("archive is %d bytes", len(tgz))
		out, code := e.Slipway("build", "evil-sparse", "--path", e2ekit.App("hello"), "--builder", e.Builder, "--buildpack", archive)
		assertFailedWith(t, out, code, archive, "sparse file claiming 1.0 GiB")
		if big := largestFile(t, e.Work); big > 64<<20 {
			t.Errorf("a %d-byte file was written under the work dir", big)
		}
	})
	t.Run("build image layer", func(t *testing.T) {
		build, _ := testimages.BuildAndRun(t)
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(untartest.SparseTar("opt/sparse-canary", 1<<30, nil))), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		evil, err := mutate.AppendLayers(build, l)
		if err != nil {
			t.Fatal(err)
		}
		writeBuilder(e, t, evil, "slipway-test/evil-sparse:1")
		// A budget that holds the real image but not the sparse claim.
		limit := uncompressedSize(t, build) + 256<<20
		t.Setenv("SLIPWAY_EXTRACT_LIMIT", fmt.Sprint(limit))
		out, code := e.Slipway("build", "evil-sparse-layer", "--path", e2ekit.App("hello"), "--builder", e.Builder)
		assertFailedWith(t, out, code, "opt/sparse-canary", "past its limit", "SLIPWAY_EXTRACT_LIMIT")
		t.Setenv("SLIPWAY_EXTRACT_LIMIT", "")
		e.MustSlipway("build", "evil-sparse-layer", "--path", e2ekit.App("hello"), "--builder", e.Builder)
		var found bool
		filepath.WalkDir(e.Work, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.Name() != "sparse-canary" {
				return nil
			}
			found = true
			fi, _ := os.Lstat(p)
			if used := fi.Sys().(*syscall.Stat_t).Blocks * 512; used > 1<<20 {
				t.Errorf("%s (%d bytes) takes %d bytes on disk; want holes", p, fi.Size(), used)
			}
			return nil
		})
		if !found {
			t.Error("the unpacked build image has no sparse-canary")
		}
	})
}

type tarEntry struct {
	name, link string
	typ        byte
}

// appendLayer adds a layer of entries to img.
func appendLayer(t *testing.T, img v1.Image, entries []tarEntry) v1.Image {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, en := range entries {
		mode := int64(0o755)
		if err := tw.WriteHeader(&tar.Header{Name: en.name, Typeflag: en.typ, Linkname: en.link, Mode: mode}); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	out, err := mutate.AppendLayers(img, l)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// writeBuilder stores build as name and points the env's builder.toml at it.
func writeBuilder(e *e2ekit.Env, t *testing.T, build v1.Image, name string) {
	t.Helper()
	s, err := imagestore.Open(e.Store)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(context.Background(), name, build); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(e.Builder)
	if err != nil {
		t.Fatal(err)
	}
	e2ekit.WriteFile(t, e.Builder, strings.Replace(string(b), e2ekit.BuildImageName, name, 1))
	e.Reown()
}

func uncompressedSize(t *testing.T, img v1.Image) int64 {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		c, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		n += c
	}
	return n
}

func largestFile(t *testing.T, dir string) int64 {
	var big int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil && fi.Size() > big {
				big = fi.Size()
			}
		}
		return nil
	})
	return big
}
