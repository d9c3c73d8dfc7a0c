package registry

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Options configure registry access.
type Options struct {
	// Insecure lists registries (host or host:port) that may be reached over plain HTTP or with
	// unverified TLS. Loopback and localhost registries are always allowed plain HTTP.
	Insecure []string
	// Keychain resolves credentials. nil means authn.DefaultKeychain only; platforms pass
	// Keychain(environ) so CNB_REGISTRY_AUTH is honoured (platform.md, Registry Authentication).
	Keychain authn.Keychain
	// Platform selects the image from a multi-platform index when pulling; nil means
	// linux on the host's architecture.
	Platform *v1.Platform
	// Progress, when set, receives upload progress of Write. remote closes it when done.
	Progress chan<- v1.Update
	// Transport is the HTTP transport; nil means remote.DefaultTransport.
	Transport http.RoundTripper

	// backoff replaces retryBackoff in tests so retries take milliseconds.
	backoff *remote.Backoff
}

// retryBackoff retries a failed request three times more, after ~0.5 s, 1 s and 2 s: long
// enough to ride out a registry restart or load-balancer hiccup, short enough that a registry
// that is really down fails the push within seconds.
var retryBackoff = remote.Backoff{Duration: 500 * time.Millisecond, Factor: 2, Jitter: 0.1, Steps: 4}

// retryStatusCodes are the transient answers worth retrying: timeouts, rate limiting and
// gateway or server errors.
var retryStatusCodes = []int{
	http.StatusRequestTimeout,
	http.StatusTooManyRequests,
	http.StatusInternalServerError,
	http.StatusBadGateway,
	http.StatusServiceUnavailable,
	http.StatusGatewayTimeout,
}

// ParseReference parses an image name the way registries and docker do (unqualified names are
// on Docker Hub, the default tag is latest), marking registries listed in o.Insecure so they
// are reached over plain HTTP.
func ParseReference(ref string, o Options) (name.Reference, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("parse image name %q: %w", ref, err)
	}
	if !o.insecure(r.Context().Registry) {
		return r, nil
	}
	r, err = name.ParseReference(ref, name.Insecure)
	if err != nil {
		return nil, fmt.Errorf("parse image name %q: %w", ref, err)
	}
	return r, nil
}

func (o Options) insecure(reg name.Registry) bool {
	for _, s := range o.Insecure {
		r, err := name.NewRegistry(s)
		if err == nil && r.Name() == reg.Name() {
			return true
		}
	}
	return false
}

func (o Options) remoteOptions(ctx context.Context) []remote.Option {
	kc := o.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	backoff := retryBackoff
	if o.backoff != nil {
		backoff = *o.backoff
	}
	platform := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if o.Platform != nil {
		platform = *o.Platform
	}
	opts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(kc),
		remote.WithPlatform(platform),
		remote.WithRetryBackoff(backoff),
		remote.WithRetryStatusCodes(retryStatusCodes...),
		remote.WithUserAgent("slipway"),
	}
	if o.Transport != nil {
		opts = append(opts, remote.WithTransport(o.Transport))
	}
	if o.Progress != nil {
		opts = append(opts, remote.WithProgress(o.Progress))
	}
	return opts
}

// Image fetches the manifest and config of ref and returns the image; layers are fetched
// lazily when read. For a multi-platform index it picks o.Platform.
func Image(ctx context.Context, ref string, o Options) (v1.Image, error) {
	r, err := ParseReference(ref, o)
	if err != nil {
		return nil, err
	}
	img, err := remote.Image(r, o.remoteOptions(ctx)...)
	if err != nil {
		return nil, classify(ctx, OpPull, r, err)
	}
	// The config is small and needed by every caller; fetching it now reports a broken image
	// here, with a clear error, rather than deep inside a build.
	if _, err := img.RawConfigFile(); err != nil {
		return nil, classify(ctx, OpPull, r, err)
	}
	return img, nil
}

// Write pushes img to ref and returns its manifest digest. Blobs the registry already has are
// not uploaded again; transient failures are retried with backoff.
func Write(ctx context.Context, ref string, img v1.Image, o Options) (v1.Hash, error) {
	r, err := ParseReference(ref, o)
	if err != nil {
		return v1.Hash{}, err
	}
	if err := remote.Write(r, img, o.remoteOptions(ctx)...); err != nil {
		return v1.Hash{}, classify(ctx, OpPush, r, err)
	}
	d, err := img.Digest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("push %s: compute digest: %w", r, err)
	}
	return d, nil
}
