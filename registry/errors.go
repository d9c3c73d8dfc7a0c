package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Op names what was being done when a registry error happened.
type Op string

const (
	OpPull Op = "pull"
	OpPush Op = "push"
)

// Kind classifies registry failures so callers can branch (and map to exit codes) with
// errors.As without parsing messages.
type Kind int

const (
	KindOther        Kind = iota
	KindUnreachable       // connection refused, DNS, timeout, TLS/HTTP mismatch
	KindUnauthorized      // 401 / 403
	KindNotFound          // 404 / MANIFEST_UNKNOWN / NAME_UNKNOWN
)

// Error is a registry failure with a message that names the registry and says what to do.
type Error struct {
	Kind     Kind
	Op       Op
	Ref      string // the image reference
	Registry string // host[:port]
	Err      error
}

func (e *Error) Unwrap() error { return e.Err }

func (e *Error) Error() string {
	switch e.Kind {
	case KindUnreachable:
		return fmt.Sprintf("cannot reach registry %s to %s %s: %v; is it running? use --insecure-registry %s for a registry served over plain HTTP", e.Registry, e.Op, e.Ref, e.Err, e.Registry)
	case KindUnauthorized:
		return fmt.Sprintf("not authorized to %s %s: %v; log in with `podman login %s` or `docker login %s`, or set %s", e.Op, e.Ref, e.Err, e.Registry, e.Registry, AuthEnv)
	case KindNotFound:
		return fmt.Sprintf("image %s not found in registry %s: %v", e.Ref, e.Registry, e.Err)
	}
	return fmt.Sprintf("%s %s: registry %s: %v", e.Op, e.Ref, e.Registry, e.Err)
}

// classify wraps err from remote into an *Error; a cancelled or expired ctx is reported as
// such, not as an unreachable registry.
func classify(ctx context.Context, op Op, r name.Reference, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s %s: %w", op, r, err)
	}
	return &Error{Kind: kindOf(op, err), Op: op, Ref: r.String(), Registry: r.Context().RegistryStr(), Err: err}
}

func kindOf(op Op, err error) Kind {
	var terr *transport.Error
	if errors.As(err, &terr) {
		switch terr.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return KindUnauthorized
		case http.StatusNotFound:
			if op == OpPull {
				return KindNotFound
			}
		}
		for _, d := range terr.Errors {
			switch d.Code {
			case transport.UnauthorizedErrorCode, transport.DeniedErrorCode:
				return KindUnauthorized
			case transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode:
				if op == OpPull {
					return KindNotFound
				}
			}
		}
		return KindOther
	}
	var (
		opErr  *net.OpError
		dnsErr *net.DNSError
		tlsErr tls.RecordHeaderError
		x509Un x509.UnknownAuthorityError
		x509Ho x509.HostnameError
	)
	switch {
	case errors.As(err, &opErr), errors.As(err, &dnsErr), isNetTimeout(err),
		errors.As(err, &tlsErr), errors.As(err, &x509Un), errors.As(err, &x509Ho):
		return KindUnreachable
	}
	// net/http reports a plain-HTTP answer to an HTTPS request only as text.
	if strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		return KindUnreachable
	}
	return KindOther
}

func isNetTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
