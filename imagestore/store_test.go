package imagestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/stream"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// The test binary doubles as a second process sharing a store (concurrency and crash tests).
const helperEnv = "IMAGESTORE_TEST_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		if err := runHelper(mode, os.Args[len(os.Args)-2], os.Args[len(os.Args)-1]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runHelper: "write" stores 5 random images named <arg>-0..4; "crash" writes one image as
// <arg> and exits abruptly right before index.json would be replaced.
func runHelper(mode, root, arg string) error {
	s, err := Open(root)
	if err != nil {
		return err
	}
	switch mode {
	case "write":
		for i := 0; i < 5; i++ {
			img, err := random.Image(512, 2)
			if err != nil {
				return err
			}
			if _, err := s.Write(context.Background(), fmt.Sprintf("%s-%d", arg, i), img); err != nil {
				return err
			}
		}
		return nil
	case "crash":
		s.beforeIndexRename = func() error { os.Exit(3); return nil }
		img, err := random.Image(512, 2)
		if err != nil {
			return err
		}
		_, err = s.Write(context.Background(), arg, img)
		return err
	}
	return fmt.Errorf("unknown helper mode %q", mode)
}

func helper(t *testing.T, mode, root, arg string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$", root, arg)
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	return cmd
}

func openStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func randomImage(t *testing.T, layers int64) v1.Image {
	t.Helper()
	img, err := random.Image(1024, layers)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func mustWrite(t *testing.T, s *Store, ref string, img v1.Image) v1.Hash {
	t.Helper()
	d, err := s.Write(context.Background(), ref, img)
	if err != nil {
		t.Fatalf("Write(%s): %v", ref, err)
	}
	return d
}

// assertImage checks that ref resolves to an image with digest want that validates fully
// (every blob present, digests and sizes right).
func assertImage(t *testing.T, s *Store, ref string, want v1.Hash) {
	t.Helper()
	img, err := s.Image(ref)
	if err != nil {
		t.Fatalf("Image(%s): %v", ref, err)
	}
	got, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("Image(%s) digest = %s, want %s", ref, got, want)
	}
	if err := validate.Image(img); err != nil {
		t.Fatalf("validate.Image(%s): %v", ref, err)
	}
}

func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"myapp", "localhost/myapp:latest"},
		{"myapp:v2", "localhost/myapp:v2"},
		{"team/myapp", "localhost/team/myapp:latest"},
		{"localhost/myapp", "localhost/myapp:latest"},
		{"registry.example.com/app", "registry.example.com/app:latest"},
		{"127.0.0.1:5000/app:1", "127.0.0.1:5000/app:1"},
		{"docker.io/library/busybox", "index.docker.io/library/busybox:latest"},
		{"myapp@sha256:" + strings.Repeat("a", 64), "localhost/myapp@sha256:" + strings.Repeat("a", 64)},
	} {
		t.Run(tc.in, func(t *testing.T) {
			r, err := Normalize(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if r.Name() != tc.want || r.String() != tc.want {
				t.Errorf("Normalize(%q) = %q / %q, want %q", tc.in, r.Name(), r.String(), tc.want)
			}
		})
	}
	if _, err := Normalize("Bad Name"); err == nil {
		t.Error("Normalize accepted an invalid name")
	}
}

func TestWriteReadValidate(t *testing.T) {
	s := openStore(t)
	for _, tc := range []struct {
		name, ref, stored string
		layers            int64
	}{
		{"unqualified", "myapp", "localhost/myapp:latest", 3},
		{"registry-qualified", "registry.example.com/team/app:v1", "registry.example.com/team/app:v1", 1},
		{"docker hub", "docker.io/library/x", "index.docker.io/library/x:latest", 2},
		{"no layers", "empty", "localhost/empty:latest", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := randomImage(t, tc.layers)
			d := mustWrite(t, s, tc.ref, img)
			want, _ := img.Digest()
			if d != want {
				t.Fatalf("Write returned %s, image digest %s", d, want)
			}
			assertImage(t, s, tc.ref, d)
			assertImage(t, s, tc.stored, d)
			assertImage(t, s, "localhost/whatever@"+d.String(), d)
		})
	}
	entries, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name)
		if e.Size <= 0 || e.Digest == (v1.Hash{}) {
			t.Errorf("entry %+v lacks size or digest", e)
		}
	}
	want := "index.docker.io/library/x:latest localhost/empty:latest localhost/myapp:latest registry.example.com/team/app:v1"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("List names = %s, want %s", got, want)
	}
	// The layout must stay readable by go-containerregistry's own layout reader.
	raw, err := os.ReadFile(filepath.Join(s.Root(), "oci-layout"))
	if err != nil || !strings.Contains(string(raw), "1.0.0") {
		t.Errorf("oci-layout = %q, %v", raw, err)
	}
}

func TestWriteStreamLayer(t *testing.T) {
	s := openStore(t)
	pr, pw := io.Pipe()
	go func() {
		fmt.Fprint(pw, "not really a tar, but a stream")
		pw.Close()
	}()
	img, err := mutate.AppendLayers(empty.Image, stream.NewLayer(pr))
	if err != nil {
		t.Fatal(err)
	}
	d := mustWrite(t, s, "streamed", img)
	stored, err := s.Image("streamed")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := stored.Digest(); got != d {
		t.Fatalf("digest %s, want %s", got, d)
	}
	layers, _ := stored.Layers()
	if len(layers) != 1 {
		t.Fatalf("%d layers, want 1", len(layers))
	}
}

type blobStat struct {
	ino   uint64
	mtime int64
}

func blobStats(t *testing.T, s *Store) map[string]blobStat {
	t.Helper()
	dir := filepath.Join(s.Root(), "blobs", "sha256")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]blobStat{}
	for _, e := range entries {
		fi, err := os.Stat(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		out[e.Name()] = blobStat{st.Ino, fi.ModTime().UnixNano()}
	}
	return out
}

// docs/architecture.md, "Never do work twice": a blob already in the store is never rewritten.
func TestWriteSameImageTwiceRewritesNoBlob(t *testing.T) {
	s := openStore(t)
	img := randomImage(t, 3)
	d1 := mustWrite(t, s, "myapp", img)
	before := blobStats(t, s)
	d2 := mustWrite(t, s, "myapp", img)
	d3 := mustWrite(t, s, "other-name", img)
	if d1 != d2 || d1 != d3 {
		t.Fatalf("digests differ: %s %s %s", d1, d2, d3)
	}
	after := blobStats(t, s)
	if len(after) != len(before) || len(before) != 5 {
		t.Fatalf("blob count %d → %d, want 5 (manifest, config, 3 layers)", len(before), len(after))
	}
	for name, st := range before {
		if after[name] != st {
			t.Errorf("blob %s was rewritten (%+v → %+v)", name, st, after[name])
		}
	}
}

func TestRetagReplacesPreviousImage(t *testing.T) {
	s := openStore(t)
	old := randomImage(t, 1)
	oldDigest := mustWrite(t, s, "myapp", old)
	newDigest := mustWrite(t, s, "localhost/myapp:latest", randomImage(t, 1))
	assertImage(t, s, "myapp", newDigest)
	entries, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Digest != newDigest {
		t.Fatalf("List = %+v, want only myapp at %s", entries, newDigest)
	}
	// The replaced image's blobs survive until GC (a running build may still read them).
	if !s.hasBlob(oldDigest, -1) {
		t.Error("old manifest deleted before GC")
	}
	if err := s.GC(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.hasBlob(oldDigest, -1) {
		t.Error("GC kept the untagged old manifest")
	}
	assertImage(t, s, "myapp", newDigest)
}

func TestRemoveCollectsOnlyUnreferencedBlobs(t *testing.T) {
	s := openStore(t)
	base := randomImage(t, 2)
	extra, err := random.Layer(2048, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	derived, err := mutate.AppendLayers(base, extra)
	if err != nil {
		t.Fatal(err)
	}
	baseDigest := mustWrite(t, s, "base", base)
	derivedDigest := mustWrite(t, s, "derived", derived)
	extraDigest, _ := extra.Digest()
	baseLayers, _ := base.Layers()

	if err := s.Remove(context.Background(), "derived"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		blob v1.Hash
		kept bool
	}{
		{"removed manifest", derivedDigest, false},
		{"layer only the removed image used", extraDigest, false},
		{"kept manifest", baseDigest, true},
		{"shared layer", mustDigest(t, baseLayers[0]), true},
	} {
		if got := s.hasBlob(tc.blob, -1); got != tc.kept {
			t.Errorf("%s: present=%v, want %v", tc.name, got, tc.kept)
		}
	}
	assertImage(t, s, "base", baseDigest)

	var nf *NotFoundError
	if err := s.Remove(context.Background(), "derived"); !errors.As(err, &nf) || nf.Ref != "localhost/derived:latest" {
		t.Errorf("second Remove: %v, want NotFoundError for localhost/derived:latest", err)
	}
}

func mustDigest(t *testing.T, l v1.Layer) v1.Hash {
	t.Helper()
	d, err := l.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestImageNotFound(t *testing.T) {
	s := openStore(t)
	mustWrite(t, s, "present", randomImage(t, 1))
	for _, ref := range []string{"absent", "present:v2", "present@sha256:" + strings.Repeat("0", 64)} {
		t.Run(ref, func(t *testing.T) {
			_, err := s.Image(ref)
			var nf *NotFoundError
			if !errors.As(err, &nf) {
				t.Fatalf("Image(%s) error = %v, want *NotFoundError", ref, err)
			}
			if !strings.Contains(err.Error(), nf.Ref) || !strings.Contains(err.Error(), s.Root()) {
				t.Errorf("message %q does not name the image and store", err)
			}
		})
	}
}

func TestConcurrentWritersKeepEveryName(t *testing.T) {
	s := openStore(t)
	// Another process writes while goroutines of this one do.
	cmd := helper(t, "write", s.Root(), "subprocess")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	want := map[string]v1.Hash{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each goroutine opens its own Store, as separate builds would.
			gs, err := Open(s.Root())
			if err != nil {
				errs <- err
				return
			}
			img, err := random.Image(512, 2)
			if err != nil {
				errs <- err
				return
			}
			ref := fmt.Sprintf("goroutine-%d", i)
			d, err := gs.Write(context.Background(), ref, img)
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			want["localhost/"+ref+":latest"] = d
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper process: %v\n%s", err, out.String())
	}
	raw, err := os.ReadFile(filepath.Join(s.Root(), "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var im v1.IndexManifest
	if err := json.Unmarshal(raw, &im); err != nil {
		t.Fatalf("index.json is not valid JSON after concurrent writes: %v", err)
	}
	if len(im.Manifests) != 13 {
		t.Errorf("index.json has %d manifests, want 13", len(im.Manifests))
	}
	for ref, d := range want {
		assertImage(t, s, ref, d)
	}
	for i := 0; i < 5; i++ {
		img, err := s.Image("subprocess-" + strconv.Itoa(i))
		if err != nil {
			t.Fatal(err)
		}
		if err := validate.Image(img); err != nil {
			t.Error(err)
		}
	}
}

// A Write that fails anywhere before index.json is replaced must leave the name's previous
// image in place (docs/architecture.md, "Crash safety": an interrupted build leaves the previous state intact).
func TestFailedWriteKeepsPreviousImage(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(t *testing.T, s *Store) error
	}{
		{"abort before index rename", func(t *testing.T, s *Store) error {
			s.beforeIndexRename = func() error { return errors.New("simulated crash") }
			defer func() { s.beforeIndexRename = nil }()
			_, err := s.Write(context.Background(), "myapp", randomImage(t, 2))
			return err
		}},
		{"layer read error", func(t *testing.T, s *Store) error {
			img, err := mutate.AppendLayers(randomImage(t, 1), failingLayer{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Write(context.Background(), "myapp", img)
			return err
		}},
		{"cancelled context", func(t *testing.T, s *Store) error {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_, err := s.Write(ctx, "myapp", randomImage(t, 2))
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			prev := mustWrite(t, s, "myapp", randomImage(t, 2))
			if err := tc.write(t, s); err == nil {
				t.Fatal("Write succeeded, want failure")
			}
			assertImage(t, s, "myapp", prev)
			assertNoTempFiles(t, s)
		})
	}
}

// A process killed between writing the new index and renaming it leaves a temp file; the next
// Open removes it and the previous image is still served.
func TestCrashedWriterProcessKeepsPreviousImage(t *testing.T) {
	s := openStore(t)
	prev := mustWrite(t, s, "myapp", randomImage(t, 2))
	cmd := helper(t, "crash", s.Root(), "myapp")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("helper should exit 3 at the crash point, got %v\n%s", err, out)
	}
	temps, _ := filepath.Glob(filepath.Join(s.Root(), indexTempPrefix+"*"))
	if len(temps) != 1 {
		t.Fatalf("crash left %d index temp files, want 1 (the test would not prove recovery)", len(temps))
	}
	reopened, err := Open(s.Root())
	if err != nil {
		t.Fatal(err)
	}
	assertImage(t, reopened, "myapp", prev)
	assertNoTempFiles(t, reopened)
	// The crashed write's blobs are unreferenced; GC drops them.
	if err := reopened.GC(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(blobStats(t, reopened)); n != 4 {
		t.Errorf("%d blobs after GC, want 4 (previous image only)", n)
	}
}

func assertNoTempFiles(t *testing.T, s *Store) {
	t.Helper()
	temps, _ := filepath.Glob(filepath.Join(s.Root(), indexTempPrefix+"*"))
	ingest, _ := os.ReadDir(filepath.Join(s.Root(), ingestDir))
	if len(temps)+len(ingest) != 0 {
		t.Errorf("temp files left: %v, %d in ingest/", temps, len(ingest))
	}
}

// failingLayer fails half-way through its content, like a layer producer that hits an error.
type failingLayer struct{}

func (failingLayer) Digest() (v1.Hash, error) {
	return v1.NewHash("sha256:" + strings.Repeat("1", 64))
}
func (failingLayer) DiffID() (v1.Hash, error) {
	return v1.NewHash("sha256:" + strings.Repeat("2", 64))
}
func (failingLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(io.MultiReader(strings.NewReader("partial content"), errReader{})), nil
}
func (failingLayer) Uncompressed() (io.ReadCloser, error) { return failingLayer{}.Compressed() }
func (failingLayer) Size() (int64, error)                 { return 1 << 20, nil }
func (failingLayer) MediaType() (types.MediaType, error)  { return types.DockerLayer, nil }

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

// Open removes temp files of crashed writers, but never those of a writer that is still
// running (it holds the gc lock shared).
func TestOpenRecoversTempFiles(t *testing.T) {
	for _, tc := range []struct {
		name       string
		liveWriter bool
		wantKept   bool
	}{
		{"crashed writer", false, false},
		{"live writer", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			stale := []string{filepath.Join(s.Root(), ingestDir, "blob-123"), filepath.Join(s.Root(), indexTempPrefix+"456")}
			for _, p := range stale {
				if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tc.liveWriter {
				unlock, err := flock(filepath.Join(s.Root(), gcLockFile), syscall.LOCK_SH)
				if err != nil {
					t.Fatal(err)
				}
				defer unlock()
			}
			if _, err := Open(s.Root()); err != nil {
				t.Fatal(err)
			}
			for _, p := range stale {
				_, err := os.Stat(p)
				if kept := err == nil; kept != tc.wantKept {
					t.Errorf("%s kept=%v, want %v", p, kept, tc.wantKept)
				}
			}
		})
	}
}

func TestOpenRejectsCorruptIndex(t *testing.T) {
	s := openStore(t)
	if err := os.WriteFile(filepath.Join(s.Root(), "index.json"), []byte("{truncated"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := s.Image("myapp")
	if err == nil || !strings.Contains(err.Error(), filepath.Join(s.Root(), "index.json")) {
		t.Errorf("error %v should name the corrupt index file", err)
	}
}

// GC running alongside Writes must never delete a blob a Write has ingested but not yet named.
func TestGCDuringWritesKeepsNewImages(t *testing.T) {
	s := openStore(t)
	done := make(chan struct{})
	gcErr := make(chan error, 1)
	go func() {
		defer close(gcErr)
		for {
			select {
			case <-done:
				return
			default:
			}
			if err := s.GC(context.Background()); err != nil {
				gcErr <- err
				return
			}
		}
	}()
	want := map[string]v1.Hash{}
	for i := 0; i < 10; i++ {
		ref := fmt.Sprintf("app-%d", i)
		want[ref] = mustWrite(t, s, ref, randomImage(t, 3))
	}
	close(done)
	if err := <-gcErr; err != nil {
		t.Fatal(err)
	}
	for ref, d := range want {
		assertImage(t, s, ref, d)
	}
}
