package imagestore

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// runnableImage is a random image whose config says linux/amd64, as podman expects.
func runnableImage(t *testing.T) v1.Image {
	t.Helper()
	return withPlatform(t, randomImage(t, 2))
}

func withPlatform(t *testing.T, img v1.Image) v1.Image {
	t.Helper()
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", "amd64"
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// ociImage is an OCI-media-type image with two random layers.
func ociImage(t *testing.T) v1.Image {
	t.Helper()
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	var layers []v1.Layer
	for i := 0; i < 2; i++ {
		l, err := random.Layer(1024, types.OCILayer)
		if err != nil {
			t.Fatal(err)
		}
		layers = append(layers, l)
	}
	img, err := mutate.AppendLayers(base, layers...)
	if err != nil {
		t.Fatal(err)
	}
	return withPlatform(t, img)
}

func saveToFile(t *testing.T, s *Store, refs ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "images.tar")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Save(context.Background(), refs, f); err != nil {
		t.Fatalf("Save(%v): %v", refs, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSaveDockerArchive(t *testing.T) {
	s := openStore(t)
	images := map[string]v1.Image{"myapp": runnableImage(t), "registry.example.com/team/other:v1": runnableImage(t)}
	for ref, img := range images {
		mustWrite(t, s, ref, img)
	}
	path := saveToFile(t, s, "myapp", "registry.example.com/team/other:v1")
	for ref, img := range images {
		t.Run(ref, func(t *testing.T) {
			full, _ := Normalize(ref)
			tag := full.(name.Tag)
			got, err := tarball.ImageFromPath(path, &tag)
			if err != nil {
				t.Fatalf("read %s back from the archive: %v", full, err)
			}
			if err := validate.Image(got); err != nil {
				t.Fatal(err)
			}
			gotCfg, _ := got.ConfigName()
			wantCfg, _ := img.ConfigName()
			if gotCfg != wantCfg {
				t.Errorf("config %s, want %s", gotCfg, wantCfg)
			}
		})
	}

	var nf *NotFoundError
	if err := s.Save(context.Background(), []string{"absent"}, new(strings.Builder)); !errors.As(err, &nf) {
		t.Errorf("Save(absent) = %v, want NotFoundError", err)
	}
}

// `slipway save myapp | podman load` must give podman an image named localhost/myapp:latest.
// Uses a throw-away podman storage so the user's images are untouched.
func TestSaveLoadsIntoPodman(t *testing.T) {
	if _, err := exec.LookPath("podman"); err != nil {
		t.Skip("podman not on PATH")
	}
	s := openStore(t)
	images := map[string]v1.Image{"localhost/docker-media-types:latest": runnableImage(t), "localhost/oci-media-types:latest": ociImage(t)}
	var refs []string
	for ref, img := range images {
		mustWrite(t, s, strings.TrimSuffix(strings.TrimPrefix(ref, "localhost/"), ":latest"), img)
		refs = append(refs, ref)
	}
	path := saveToFile(t, s, refs...)

	dir := t.TempDir()
	podman := func(args ...string) []byte {
		t.Helper()
		base := []string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"), "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "none"}
		out, err := exec.Command("podman", append(base, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("podman %v: %v\n%s", args, err, out)
		}
		return out
	}
	t.Cleanup(func() {
		// vfs layers may be owned by sub-uids; podman removes its own storage.
		exec.Command("podman", "--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"), "--storage-driver", "vfs", "system", "reset", "-f").Run()
	})
	podman("load", "-i", path)
	for ref, img := range images {
		out := podman("image", "inspect", ref)
		var inspect []struct{ ID string }
		if err := json.Unmarshal(out, &inspect); err != nil || len(inspect) != 1 {
			t.Fatalf("podman image inspect %s output %s: %v", ref, out, err)
		}
		cfg, _ := img.ConfigName()
		if inspect[0].ID != cfg.Hex {
			t.Errorf("%s: podman image ID %s, want config digest %s", ref, inspect[0].ID, cfg.Hex)
		}
	}
}

// The store is a plain OCI layout: skopeo's oci: transport finds images by their full name.
func TestSkopeoReadsStore(t *testing.T) {
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Skip("skopeo not on PATH")
	}
	s := openStore(t)
	// containers/image's oci: transport only considers OCI media types in index.json, so a
	// Docker-media-type image is not visible to it; Slipway's exporter writes OCI images.
	img := ociImage(t)
	d := mustWrite(t, s, "myapp", img)
	out, err := exec.Command("skopeo", "inspect", "oci:"+s.Root()+":localhost/myapp:latest").CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo inspect: %v\n%s", err, out)
	}
	var inspect struct{ Digest string }
	if err := json.Unmarshal(out, &inspect); err != nil {
		t.Fatalf("skopeo output %s: %v", out, err)
	}
	if inspect.Digest != d.String() {
		t.Errorf("skopeo digest %s, want %s", inspect.Digest, d)
	}
}

// probeWriter tries to take the GC lock exclusively at its first Write, the moment Save is
// streaming blobs: GC must not be able to run then.
type probeWriter struct {
	root  string
	tried bool
	gcRan bool
}

func (p *probeWriter) Write(b []byte) (int, error) {
	if !p.tried {
		p.tried = true
		unlock, err := flock(filepath.Join(p.root, gcLockFile), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			p.gcRan = true
			unlock()
		}
	}
	return len(b), nil
}

// Save holds the GC lock (shared) while it streams, so a concurrent GC cannot delete the
// blobs it is reading.
func TestSaveHoldsGCLock(t *testing.T) {
	s := openStore(t)
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(context.Background(), "app", img); err != nil {
		t.Fatal(err)
	}
	p := &probeWriter{root: s.Root()}
	if err := s.Save(context.Background(), []string{"app"}, p); err != nil {
		t.Fatal(err)
	}
	if !p.tried {
		t.Fatal("Save wrote nothing")
	}
	if p.gcRan {
		t.Error("GC could take its lock while Save was streaming")
	}
	// And the lock is released afterwards.
	unlock, err := flock(filepath.Join(s.Root(), gcLockFile), syscall.LOCK_EX|syscall.LOCK_NB)
	if err != nil {
		t.Fatalf("GC lock still held after Save: %v", err)
	}
	unlock()
}
