package publish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/daemon"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/moby/moby/client"

	"github.com/slipway/slipway/lifecycle"
	"github.com/slipway/slipway/platform"
)

// Daemon keeps images in a Docker Engine API: Docker's, or podman's Docker-compatible
// service (platform.md, analyzer and exporter: -daemon). Images are read with `docker save`
// (only when their layers are needed) and written with `docker load`, which is sent no layer
// the daemon already holds (see Write).
type Daemon struct {
	client *client.Client
	host   string
	// Progress, when set, receives one line per load: bytes sent and layers skipped.
	Progress func(format string, args ...any)

	mu sync.Mutex
	// held are the layer lists (diffIDs, bottom first) of images read from this daemon.
	held [][]v1.Hash
}

var _ lifecycle.Images = (*Daemon)(nil)

// DaemonHost is the Docker Engine API the environment names: DOCKER_HOST, else Docker's
// default socket.
func DaemonHost(env []string) string {
	if h := platform.Env(env).Get("DOCKER_HOST"); h != "" {
		return h
	}
	return client.DefaultDockerHost
}

// OpenDaemon connects to the Docker Engine API at DOCKER_HOST (else Docker's default
// socket) and checks that it answers, so that a missing daemon is reported once, naming the
// socket tried, before any work.
func OpenDaemon(ctx context.Context, env []string) (*Daemon, error) {
	return OpenDaemonHost(ctx, DaemonHost(env))
}

// OpenDaemonHost is OpenDaemon for the Docker Engine API at host (a DOCKER_HOST value).
func OpenDaemonHost(ctx context.Context, host string) (*Daemon, error) {
	c, err := client.New(client.WithHost(host), client.WithTLSClientConfigFromEnv())
	if err != nil {
		return nil, fmt.Errorf("docker daemon %s (DOCKER_HOST): %w", host, err)
	}
	if _, err := c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		c.Close()
		return nil, fmt.Errorf("no Docker daemon answers at %s: %w; start Docker, or podman's Docker-compatible service (podman system service --time=0 unix:///run/user/$UID/podman/podman.sock), and set DOCKER_HOST to its socket (unix:///path/to.sock)", host, err)
	}
	return &Daemon{client: c, host: host}, nil
}

// Host is the Docker Engine API address in use.
func (d *Daemon) Host() string { return d.host }

// Close releases the connection.
func (d *Daemon) Close() error { return d.client.Close() }

func (d *Daemon) opts(ctx context.Context) []daemon.Option {
	// A file buffer keeps a large image out of memory and exports it at most once.
	return []daemon.Option{daemon.WithClient(d.client), daemon.WithContext(ctx), daemon.WithFileBufferedOpener()}
}

// Image reads ref (a name, or an image ID as analyzed.toml records it in daemon mode);
// a missing image is lifecycle.ErrImageNotFound.
func (d *Daemon) Image(ctx context.Context, ref string) (v1.Image, error) {
	r, err := daemonRef(ref)
	if err != nil {
		return nil, err
	}
	img, err := daemon.Image(r, d.opts(ctx)...)
	if cerrdefs.IsNotFound(err) {
		return nil, fmt.Errorf("%w: %s in the Docker daemon at %s", lifecycle.ErrImageNotFound, ref, d.host)
	}
	if err != nil {
		return nil, fmt.Errorf("read image %s from the Docker daemon at %s: %w", ref, d.host, err)
	}
	// The config comes from an inspect, not an export: cheap. Its layers are ones the
	// daemon holds, which Write need not send again.
	if cf, err := img.ConfigFile(); err == nil {
		d.mu.Lock()
		d.held = append(d.held, cf.RootFS.DiffIDs)
		d.mu.Unlock()
	}
	return img, nil
}

// Identify is the image ID: what the daemon knows an image by (platform.md, Files:
// analyzed.toml and report.toml record it in daemon mode).
func (d *Daemon) Identify(_ string, img v1.Image) (string, error) {
	id, err := img.ConfigName()
	if err != nil {
		return "", err
	}
	return id.String(), nil
}

// Write loads img into the daemon under the first name and tags it with the others; the
// report has its image ID (platform.md, Files: report.toml). An image the daemon already has
// (same image ID) is only tagged. Otherwise the `docker load` archive carries an empty
// placeholder instead of each bottom layer the daemon already holds: the longest run of
// bottom layers img shares with an image read from this daemon (the run and previous images)
// or with the image the names point at now (the last build). Docker's load skips a layer
// whose chain it has without reading the file, and podman's skips one whose diffID it has;
// should the daemon have dropped it meanwhile, the load fails and is retried with every layer.
func (d *Daemon) Write(ctx context.Context, names []string, img v1.Image) (platform.ImageReport, error) {
	var tags []name.Tag
	for _, n := range names {
		t, err := name.NewTag(n, name.WeakValidation)
		if err != nil {
			return platform.ImageReport{}, fmt.Errorf("image name %q: %w (a daemon image needs a tag, not a digest)", n, err)
		}
		tags = append(tags, t)
	}
	id, err := img.ConfigName()
	if err != nil {
		return platform.ImageReport{}, err
	}
	if _, err := d.client.ImageInspect(ctx, id.String()); err != nil {
		if err := d.load(ctx, tags[0], names, img); err != nil {
			return platform.ImageReport{}, fmt.Errorf("load image %s into the Docker daemon at %s: %w", names[0], d.host, err)
		}
		tags = tags[1:]
	} else {
		d.progressf("Image %s is in the Docker daemon already: nothing sent", id)
	}
	for _, t := range tags {
		if _, err := d.client.ImageTag(ctx, client.ImageTagOptions{Source: id.String(), Target: t.String()}); err != nil {
			return platform.ImageReport{}, fmt.Errorf("tag %s as %s in the Docker daemon at %s: %w", id, t, d.host, err)
		}
	}
	return platform.ImageReport{ImageID: id.String()}, nil
}

func (d *Daemon) progressf(format string, args ...any) {
	if d.Progress != nil {
		d.Progress(format, args...)
	}
}

// load sends img as a `docker load` archive tagged tag, bottom layers the daemon holds as
// placeholders, and falls back to sending every layer.
func (d *Daemon) load(ctx context.Context, tag name.Tag, names []string, img v1.Image) error {
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	skip := d.heldPrefix(ctx, names, cf.RootFS.DiffIDs)
	sent, err := d.loadArchive(ctx, tag, img, skip)
	if err != nil && skip > 0 {
		first := err
		if sent, err = d.loadArchive(ctx, tag, img, 0); err != nil {
			return fmt.Errorf("%w (and with placeholders for the %d layers it held: %v)", err, skip, first)
		}
		skip = 0
	}
	if err != nil {
		return err
	}
	d.progressf("Loaded %s into the Docker daemon: %d bytes sent; %d of %d layers it holds were not sent", tag, sent, skip, len(cf.RootFS.DiffIDs))
	return nil
}

// heldPrefix is how many bottom layers of diffIDs the daemon is known to hold: the longest
// run from the bottom shared with an image read from it or the image one of names points at.
func (d *Daemon) heldPrefix(ctx context.Context, names []string, diffIDs []v1.Hash) int {
	d.mu.Lock()
	lists := slices.Clone(d.held)
	d.mu.Unlock()
	for _, n := range names {
		in, err := d.client.ImageInspect(ctx, n)
		if err != nil || in.RootFS.Type != "layers" {
			continue
		}
		var ids []v1.Hash
		for _, l := range in.RootFS.Layers {
			h, err := v1.NewHash(l)
			if err != nil {
				break
			}
			ids = append(ids, h)
		}
		lists = append(lists, ids)
	}
	return commonBottom(lists, diffIDs)
}

// commonBottom is the length of the longest run of bottom layers diffIDs shares with one of lists.
func commonBottom(lists [][]v1.Hash, diffIDs []v1.Hash) int {
	best := 0
	for _, c := range lists {
		n := 0
		for n < len(c) && n < len(diffIDs) && c[n] == diffIDs[n] {
			n++
		}
		best = max(best, n)
	}
	return best
}

// loadArchive streams img to the daemon's /images/load as a `docker save` archive, the
// first skip layers as empty placeholders, and returns the bytes sent.
func (d *Daemon) loadArchive(ctx context.Context, tag name.Tag, img v1.Image, skip int) (int64, error) {
	pr, pw := io.Pipe()
	sent := &countingWriter{w: pw}
	go func() {
		pw.CloseWithError(tarball.Write(tag, heldLayers{Image: img, skip: skip}, sent))
	}()
	resp, err := d.client.ImageLoad(ctx, pr, client.ImageLoadWithQuiet(false))
	if err != nil {
		pr.CloseWithError(err)
		return 0, err
	}
	defer resp.Close()
	body, err := io.ReadAll(resp)
	pr.CloseWithError(io.ErrClosedPipe) // the daemon answered: stop the writer if it still runs
	if err != nil {
		return 0, err
	}
	return sent.n.Load(), loadError(string(body))
}

type countingWriter struct {
	w io.Writer
	n atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// heldLayers is an image whose first skip layers are placeholders: the same digest and
// diffID, no bytes. Only for an archive a daemon that holds those layers loads.
type heldLayers struct {
	v1.Image
	skip int
}

func (h heldLayers) Layers() ([]v1.Layer, error) {
	ls, err := h.Image.Layers()
	if err != nil {
		return nil, err
	}
	out := slices.Clone(ls)
	for i := 0; i < h.skip && i < len(out); i++ {
		out[i] = placeholder{out[i]}
	}
	return out, nil
}

// placeholder is a layer a daemon already holds: its identity without its bytes.
type placeholder struct{ v1.Layer }

func (placeholder) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader("")), nil
}
func (placeholder) Uncompressed() (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader("")), nil
}
func (placeholder) Size() (int64, error) { return 0, nil }

// loadError is the error a `docker load` response reports: the Engine API answers 200 and
// streams JSON messages, one of which carries the failure.
func loadError(resp string) error {
	dec := json.NewDecoder(strings.NewReader(resp))
	for {
		var m struct {
			Error       string `json:"error"`
			ErrorDetail struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&m); err != nil {
			return nil // the end, or not JSON: nothing reported
		}
		if m.ErrorDetail.Message != "" {
			return errors.New(m.ErrorDetail.Message)
		}
		if m.Error != "" {
			return errors.New(m.Error)
		}
	}
}

// daemonRef parses ref for the daemon, keeping the name as written (the daemon resolves
// short names itself), and accepting a bare image ID (sha256:…).
func daemonRef(ref string) (name.Reference, error) {
	if strings.HasPrefix(ref, "sha256:") {
		if _, err := v1.NewHash(ref); err != nil {
			return nil, fmt.Errorf("image ID %q: %w", ref, err)
		}
		return imageID{Tag: name.MustParseReference("image-id").(name.Tag), id: ref}, nil
	}
	r, err := name.ParseReference(ref, name.WeakValidation)
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", ref, err)
	}
	return asWritten{Reference: r, s: ref}, nil
}

// asWritten is a reference whose name is the string the user wrote.
type asWritten struct {
	name.Reference
	s string
}

func (r asWritten) Name() string   { return r.s }
func (r asWritten) String() string { return r.s }

// imageID is an image ID used as a reference.
type imageID struct {
	name.Tag
	id string
}

func (r imageID) Name() string       { return r.id }
func (r imageID) String() string     { return r.id }
func (r imageID) Identifier() string { return r.id }
