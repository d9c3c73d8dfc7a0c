package sandbox

import (
	"context"
	"fmt"
	"io"
	"os/exec"
)

// Bind makes the host path Source visible at Dest inside the sandbox.
type Bind struct {
	Source   string
	Dest     string
	ReadOnly bool
	// Owned hands Source to the sandbox user before the run: every entry not owned by
	// HostUser is chowned to it, so the process can write what the host put there. Set it
	// for per-build dirs only (workspace, layers, home), never for a user's directory.
	Owned bool
}

// Spec describes one process to run in a sandbox. Nothing of the host leaks in that the
// Spec does not name: the environment is exactly Env, and only Binds (plus the rootfs)
// are visible (docs/architecture.md, "Sandbox", platform.md, Security Considerations).
type Spec struct {
	// Rootfs is the host directory of the unpacked build image (see Unpack). Host ignores it.
	Rootfs string
	// Binds are applied in order, so a later bind may nest inside an earlier one
	// (e.g. the slipway binary at /cnb/lifecycle/slipway inside the /cnb bind).
	Binds []Bind
	// Args is the argv inside the sandbox; Args[0] is looked up in Env's PATH if relative.
	Args []string
	// Env is the complete environment inside; nothing is inherited from the host. The one
	// addition is PWD, set to Dir as a shell would (bwrap always sets it).
	Env []string
	// Dir is the working directory inside; "/" when empty.
	Dir string
	// UID and GID are the CNB user the process runs as (platform.md, Build Image; platform.md, Security Considerations).
	UID, GID int
	// Network is the network the process sees; the zero value is NetworkPrivate.
	Network Network
	// Stdout and Stderr receive the process output; nil discards it.
	Stdout, Stderr io.Writer
}

// Network names the network a sandboxed process is attached to (--network, pack's flag name).
type Network string

const (
	// NetworkPrivate is the default: the process gets its own network namespace whose only
	// way out is user-mode NAT to the internet; the host's loopback services are not
	// reachable (docs/sandbox.md).
	NetworkPrivate Network = "private"
	// NetworkHost shares the host's network namespace, 127.0.0.1 services included.
	NetworkHost Network = "host"
)

// ParseNetwork reads a --network value: "private" (or empty, or "default") or "host".
func ParseNetwork(s string) (Network, error) {
	switch s {
	case "", "default", string(NetworkPrivate):
		return NetworkPrivate, nil
	case string(NetworkHost):
		return NetworkHost, nil
	default:
		return "", fmt.Errorf("unknown network %q; use private (the default: internet through user-mode NAT, no host services) or host (the host's network, 127.0.0.1 included)", s)
	}
}

// Executor runs a Spec to completion. A process that ran and exited non-zero is reported
// as *ExitError, so callers can map buildpack failures to phase exit codes; any other
// error means the sandbox itself could not be set up.
type Executor interface {
	Run(ctx context.Context, s Spec) error
}

// ExitError reports that the sandboxed process ran and exited with a non-zero Code.
// A process killed by a signal reports 128+signal, as a shell would.
type ExitError struct {
	Code int
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("sandboxed process exited with code %d", e.Code)
}

// New returns the executor named on the command line (--sandbox): "bwrap", "host", or
// "auto", which picks bubblewrap when it is installed.
func New(name string) (Executor, error) {
	switch name {
	case "bwrap":
		p, err := lookBwrap("")
		if err != nil {
			return nil, err
		}
		return &Bwrap{Path: p}, nil
	case "host":
		p, err := lookBwrap("")
		if err != nil {
			return nil, err
		}
		return &Host{BwrapPath: p}, nil
	case "auto", "":
		p, err := lookBwrap("")
		if err != nil {
			return nil, fmt.Errorf("choose sandbox: no sandbox tool available (%w)", err)
		}
		return &Bwrap{Path: p}, nil
	default:
		return nil, fmt.Errorf("choose sandbox %q: unknown executor; use bwrap, host or auto", name)
	}
}

func lookBwrap(path string) (string, error) {
	if path != "" {
		return path, nil
	}
	p, err := exec.LookPath("bwrap")
	if err != nil {
		return "", fmt.Errorf("find bubblewrap: %w; install it (apt-get install bubblewrap) or pass --sandbox host", err)
	}
	return p, nil
}
