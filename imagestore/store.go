package imagestore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/slipway/slipway/atomicfile"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// LocalRegistry is the registry part given to unqualified names. podman uses the same
// convention for locally built images, so `slipway save myapp | podman load` followed by
// `podman run localhost/myapp` (or just `podman run myapp`) finds the image.
const LocalRegistry = "localhost"

// Store is an OCI image layout directory (image-spec image-layout.md) holding named images.
// All blobs are shared between images; names live in index.json. A Store is safe for
// concurrent use by goroutines and by other processes opening the same root.
type Store struct {
	root string

	// beforeIndexRename is a test seam: it runs after the new index.json is durable in its
	// temp file and before the rename that publishes it, so tests can simulate a crash there.
	beforeIndexRename func() error
}

// Entry describes one named image in the store.
type Entry struct {
	Name    string    // full normalized reference, e.g. localhost/myapp:latest
	Digest  v1.Hash   // manifest digest
	Created time.Time // from the image config; zero when unset (reproducible builds use 1980)
	Size    int64     // manifest + config + compressed layers, shared blobs counted per image
}

// NotFoundError reports that no image of the given name is in the store.
type NotFoundError struct {
	Ref  string // normalized reference that was looked up
	Root string // store directory
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("image %q not found in the local image store %s; build or pull it first", e.Ref, e.Root)
}

const ociLayoutFile = "oci-layout"

// Open opens the store at root, creating an empty OCI layout if there is none, and removes
// temp files left behind by writers that crashed.
func Open(root string) (*Store, error) {
	if root == "" {
		return nil, errors.New("open image store: no directory given")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("open image store %s: %w", root, err)
	}
	s := &Store{root: abs}
	for _, dir := range []string{filepath.Join(abs, "blobs", "sha256"), filepath.Join(abs, ingestDir)} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("open image store %s: %w", abs, err)
		}
	}
	if err := s.initLayout(); err != nil {
		return nil, fmt.Errorf("open image store %s: %w", abs, err)
	}
	if err := s.recover(); err != nil {
		return nil, fmt.Errorf("open image store %s: %w", abs, err)
	}
	return s, nil
}

// Root is the store's directory; any OCI tool can read it, e.g.
// `skopeo inspect oci:<root>:localhost/myapp:latest`. containers/image (skopeo, podman's oci:
// transport) only sees manifests with OCI media types; Docker-media-type images are stored and
// served by Slipway but are invisible to those tools.
func (s *Store) Root() string { return s.root }

func (s *Store) initLayout() error {
	unlock, err := flock(filepath.Join(s.root, indexLockFile), syscall.LOCK_EX)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(s.root, ociLayoutFile)); errors.Is(err, os.ErrNotExist) {
		if err := s.writeFileAtomic(ociLayoutFile, []byte(`{"imageLayoutVersion":"1.0.0"}`+"\n"), nil); err != nil {
			return err
		}
	}
	if _, err := os.Stat(filepath.Join(s.root, indexFile)); errors.Is(err, os.ErrNotExist) {
		if err := s.writeFileAtomic(indexFile, []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`+"\n"), nil); err != nil {
			return err
		}
	}
	return nil
}

// recover deletes temp files of crashed writers. It only runs when it can take both locks
// without waiting: a live writer holds one of them, and its temp files must stay.
func (s *Store) recover() error {
	unlockGC, err := flock(filepath.Join(s.root, gcLockFile), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unlockGC()
	unlockIndex, err := flock(filepath.Join(s.root, indexLockFile), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unlockIndex()
	if err := s.removeIngest(); err != nil {
		return err
	}
	entries, err := os.ReadDir(s.root)
	if err != nil {
		return fmt.Errorf("read %s: %w", s.root, err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), indexTempPrefix) || strings.HasPrefix(e.Name(), atomicfile.TempPrefix(ociLayoutFile)) {
			if err := os.Remove(filepath.Join(s.root, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("remove stale temp file: %w", err)
			}
		}
	}
	return nil
}

// removeIngest empties ingest/; callers hold the gc lock exclusively, so no writer is active.
func (s *Store) removeIngest() error {
	dir := filepath.Join(s.root, ingestDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read %s: %w", dir, err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("remove stale temp file: %w", err)
		}
	}
	return nil
}

// Normalize turns a user-given image name into the full reference the store records.
// Unqualified names get the "localhost" registry and the "latest" tag, as podman does for
// local images (myapp → localhost/myapp:latest); names with a registry keep it
// (registry.example.com/app → registry.example.com/app:latest, docker.io/library/x →
// index.docker.io/library/x:latest). The returned reference's String() is its full name.
func Normalize(ref string) (name.Reference, error) {
	r, err := name.ParseReference(ref, name.WithDefaultRegistry(LocalRegistry))
	if err != nil {
		return nil, fmt.Errorf("parse image name %q: %w", ref, err)
	}
	// Re-parse the full name so String() (what tarball writes as RepoTags) is canonical too.
	full, err := name.ParseReference(r.Name())
	if err != nil {
		return nil, fmt.Errorf("parse image name %q: %w", ref, err)
	}
	return full, nil
}

// Image returns the stored image named ref (a tag, or a digest of any stored manifest). It
// returns a *NotFoundError when there is none. Layers are read lazily from the store.
func (s *Store) Image(ref string) (v1.Image, error) {
	r, err := Normalize(ref)
	if err != nil {
		return nil, err
	}
	im, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	desc := find(im, r)
	if desc == nil {
		return nil, &NotFoundError{Ref: r.Name(), Root: s.root}
	}
	img, err := layout.Path(s.root).Image(desc.Digest)
	if err != nil {
		return nil, fmt.Errorf("read image %s from %s: %w", r.Name(), s.root, err)
	}
	return img, nil
}

func find(im *v1.IndexManifest, r name.Reference) *v1.Descriptor {
	for i, d := range im.Manifests {
		if matches(d, r) {
			return &im.Manifests[i]
		}
	}
	return nil
}

// matches reports whether descriptor d is the one r names: by name for tags, by manifest
// digest for digest references (stored under any name).
func matches(d v1.Descriptor, r name.Reference) bool {
	if dg, ok := r.(name.Digest); ok {
		return d.Digest.String() == dg.DigestStr()
	}
	return d.Annotations[RefNameAnnotation] == r.Name()
}

// List returns the named images, sorted by name.
func (s *Store) List() ([]Entry, error) {
	im, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, d := range im.Manifests {
		n := d.Annotations[RefNameAnnotation]
		if n == "" || !d.MediaType.IsImage() {
			continue
		}
		e := Entry{Name: n, Digest: d.Digest, Size: d.Size}
		m, err := s.readManifest(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("list image %s: %w", n, err)
		}
		e.Size += m.Config.Size
		for _, l := range m.Layers {
			e.Size += l.Size
		}
		f, err := os.Open(s.blobPath(m.Config.Digest))
		if err != nil {
			return nil, fmt.Errorf("list image %s: read config: %w", n, err)
		}
		cfg, err := v1.ParseConfigFile(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("list image %s: parse config %s: %w", n, m.Config.Digest, err)
		}
		e.Created = cfg.Created.Time
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (s *Store) readManifest(h v1.Hash) (*v1.Manifest, error) {
	f, err := os.Open(s.blobPath(h))
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	defer f.Close()
	m, err := v1.ParseManifest(f)
	if err != nil {
		return nil, fmt.Errorf("parse manifest %s: %w", h, err)
	}
	return m, nil
}

// Write stores img under ref (see Normalize; a tag, not a digest) and returns its manifest
// digest. Blobs already in the store are not rewritten. The name moves to the new image only
// after every blob is durable, so a failed or interrupted Write leaves the previous image of
// that name intact. The previous image's blobs stay until GC: a build may still be reading
// them (e.g. as the previous image for layer reuse).
func (s *Store) Write(ctx context.Context, ref string, img v1.Image) (v1.Hash, error) {
	r, err := Normalize(ref)
	if err != nil {
		return v1.Hash{}, err
	}
	if _, ok := r.(name.Tag); !ok {
		return v1.Hash{}, fmt.Errorf("store image as %q: give a name with a tag, not a digest", ref)
	}
	full := r.Name()
	// Shared gc lock from first blob to index commit: GC must not collect blobs that are
	// written but not yet referenced.
	unlock, err := flock(filepath.Join(s.root, gcLockFile), syscall.LOCK_SH)
	if err != nil {
		return v1.Hash{}, err
	}
	defer unlock()
	if err := s.writeImageBlobs(ctx, img); err != nil {
		return v1.Hash{}, fmt.Errorf("store image %s: %w", full, err)
	}
	desc, err := imageDescriptor(img)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("store image %s: %w", full, err)
	}
	desc.Annotations = map[string]string{RefNameAnnotation: full}
	if err := ctx.Err(); err != nil {
		return v1.Hash{}, fmt.Errorf("store image %s: %w", full, err)
	}
	err = s.updateIndex(func(im *v1.IndexManifest) error {
		kept := im.Manifests[:0]
		for _, d := range im.Manifests {
			if d.Annotations[RefNameAnnotation] != full {
				kept = append(kept, d)
			}
		}
		im.Manifests = append(kept, desc)
		return nil
	})
	if err != nil {
		return v1.Hash{}, fmt.Errorf("store image %s: %w", full, err)
	}
	return desc.Digest, nil
}
