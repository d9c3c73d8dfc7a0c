package imagestore

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/slipway/slipway/atomicfile"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// RefNameAnnotation is the OCI image-layout annotation carrying an image's name in index.json.
// Slipway stores the full normalized reference (see Normalize) rather than only the tag, so
// `skopeo inspect oci:<root>:localhost/myapp:latest` and podman's oci: transport find it.
const RefNameAnnotation = "org.opencontainers.image.ref.name"

const (
	indexFile       = "index.json"
	indexTempPrefix = ".index.json.tmp-" // atomicfile.TempPrefix(indexFile)
)

func emptyIndex() *v1.IndexManifest {
	return &v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{}}
}

// readIndex reads index.json. Writers replace it by rename, so a reader without the lock
// always sees one complete version.
func (s *Store) readIndex() (*v1.IndexManifest, error) {
	path := filepath.Join(s.root, indexFile)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return emptyIndex(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("read store index %s: %w", path, err)
	}
	defer f.Close()
	im, err := v1.ParseIndexManifest(f)
	if err != nil {
		return nil, fmt.Errorf("parse store index %s: %w; the file is corrupt, restore it or remove the store", path, err)
	}
	return im, nil
}

// updateIndex runs a read-modify-write cycle of index.json under the exclusive index lock and
// commits the result atomically (temp + fsync + rename + directory fsync): go-containerregistry's
// layout package rewrites index.json in place without a lock, which loses entries under
// concurrent builds and leaves a truncated file after a crash.
func (s *Store) updateIndex(change func(*v1.IndexManifest) error) error {
	unlock, err := flock(filepath.Join(s.root, indexLockFile), syscall.LOCK_EX)
	if err != nil {
		return err
	}
	defer unlock()
	im, err := s.readIndex()
	if err != nil {
		return err
	}
	if err := change(im); err != nil {
		return err
	}
	return s.writeIndex(im)
}

func (s *Store) writeIndex(im *v1.IndexManifest) error {
	if im.Manifests == nil {
		im.Manifests = []v1.Descriptor{}
	}
	b, err := json.MarshalIndent(im, "", "  ")
	if err != nil {
		return fmt.Errorf("encode store index: %w", err)
	}
	return s.writeFileAtomic(indexFile, append(b, '\n'), s.beforeIndexRename)
}

// writeFileAtomic replaces root/name with data. beforeRename, when set, is a test seam that
// runs after the temp file is durable and before it replaces the original.
func (s *Store) writeFileAtomic(name string, data []byte, beforeRename func() error) error {
	f, err := atomicfile.Create(filepath.Join(s.root, name), 0o644)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Join(s.root, name), err)
	}
	return f.CommitWith(beforeRename)
}
