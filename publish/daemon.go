package publish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/daemon"
	"github.com/moby/moby/client"

	"github.com/slipway/slipway/lifecycle"
	"github.com/slipway/slipway/platform"
)

// Daemon keeps images in a Docker Engine API: Docker's, or podman's Docker-compatible
// service (platform.md, analyzer and exporter: -daemon). Images are read with `docker save`
// (only when their layers are needed) and written with `docker load`.
type Daemon struct {
	client *client.Client
	host   string
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
// report has its image ID (platform.md, Files: report.toml).
func (d *Daemon) Write(ctx context.Context, names []string, img v1.Image) (platform.ImageReport, error) {
	var tags []name.Tag
	for _, n := range names {
		t, err := name.NewTag(n, name.WeakValidation)
		if err != nil {
			return platform.ImageReport{}, fmt.Errorf("image name %q: %w (a daemon image needs a tag, not a digest)", n, err)
		}
		tags = append(tags, t)
	}
	resp, err := daemon.Write(tags[0], img, d.opts(ctx)...)
	if err == nil {
		err = loadError(resp)
	}
	if err != nil {
		return platform.ImageReport{}, fmt.Errorf("load image %s into the Docker daemon at %s: %w", names[0], d.host, err)
	}
	for _, t := range tags[1:] {
		if err := daemon.Tag(tags[0], t, d.opts(ctx)...); err != nil {
			return platform.ImageReport{}, fmt.Errorf("tag %s as %s in the Docker daemon at %s: %w", names[0], t, d.host, err)
		}
	}
	id, err := img.ConfigName()
	if err != nil {
		return platform.ImageReport{}, err
	}
	return platform.ImageReport{ImageID: id.String()}, nil
}

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
