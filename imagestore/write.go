package imagestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/stream"
	"golang.org/x/sync/errgroup"
)

// layerJobs bounds concurrent layer ingestion: enough to overlap compression of several
// layers without opening dozens of files at once.
const layerJobs = 4

// writeImageBlobs commits layers, then config, then manifest. Layers go first because a
// streamed layer's digest (and so the manifest) is only known after it has been read.
func (s *Store) writeImageBlobs(ctx context.Context, img v1.Image) error {
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("read layers: %w", err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(layerJobs)
	for _, l := range layers {
		g.Go(func() error { return s.writeLayer(gctx, l) })
	}
	if err := g.Wait(); err != nil {
		return err
	}

	cfg, err := img.RawConfigFile()
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return fmt.Errorf("read config digest: %w", err)
	}
	if err := s.writeBlobIfMissing(ctx, cfgName, int64(len(cfg)), bytesOpener(cfg)); err != nil {
		return fmt.Errorf("write config: %w", err)
	}

	desc, err := imageDescriptor(img)
	if err != nil {
		return err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return fmt.Errorf("read manifest: %w", err)
	}
	if err := s.writeBlobIfMissing(ctx, desc.Digest, desc.Size, bytesOpener(raw)); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	return nil
}

func (s *Store) writeLayer(ctx context.Context, l v1.Layer) error {
	d, err := l.Digest()
	if errors.Is(err, stream.ErrNotComputed) {
		// A stream layer can be read once and learns its digest by being read.
		rc, err := l.Compressed()
		if err != nil {
			return fmt.Errorf("read layer: %w", err)
		}
		defer rc.Close()
		got, _, err := s.commitBlob(ctx, v1.Hash{}, -1, rc)
		if err != nil {
			return fmt.Errorf("write layer: %w", err)
		}
		if err := rc.Close(); err != nil {
			return fmt.Errorf("read layer %s: %w", got, err)
		}
		if d, err = l.Digest(); err != nil {
			return fmt.Errorf("read layer digest: %w", err)
		}
		if d != got {
			return fmt.Errorf("write layer: stored digest %s differs from the layer's digest %s", got, d)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("read layer digest: %w", err)
	}
	size, err := l.Size()
	if err != nil {
		return fmt.Errorf("read layer %s size: %w", d, err)
	}
	if err := s.writeBlobIfMissing(ctx, d, size, l.Compressed); err != nil {
		return fmt.Errorf("write layer %s: %w", d, err)
	}
	return nil
}

// imageDescriptor is img's descriptor without any annotations it carried from its source.
func imageDescriptor(img v1.Image) (v1.Descriptor, error) {
	mt, err := img.MediaType()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("read media type: %w", err)
	}
	d, err := img.Digest()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("read manifest digest: %w", err)
	}
	size, err := img.Size()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("read manifest size: %w", err)
	}
	return v1.Descriptor{MediaType: mt, Digest: d, Size: size}, nil
}

func bytesOpener(b []byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}
