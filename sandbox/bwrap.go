package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Bwrap runs the process with bubblewrap inside the build image's rootfs, mounted
// read-only at /, with a fresh /proc, a minimal /dev, a tmpfs /tmp and the Spec's binds.
// Network stays shared so buildpacks can download dependencies (docs/architecture.md, "Sandbox").
//
// The CNB user is realised with a user namespace that maps UID:GID inside to the
// invoking user outside (root or not). Files the buildpacks write into bound dirs are
// therefore owned by the invoking user on the host, so the exporter can always read
// them; the exporter sets the CNB uid/gid in the tar headers (platform.md, Build Reproducibility), so
// host ownership never reaches the image.
type Bwrap struct {
	// Path is the bwrap binary; empty means look it up in PATH.
	Path string
}

// Host keeps the host's filesystem (read-only) instead of switching to a rootfs, for CI
// runners that already are the build environment. It still gives the process private
// mount, pid, ipc and uts namespaces, binds the CNB paths, mounts a tmpfs /tmp and runs
// it as UID:GID. Host home and runtime dirs (/root, /home, /run) are masked with empty
// tmpfs because registry credentials live there (platform.md, Security Considerations); anything else on
// the host stays visible, which is why Bwrap is the default.
type Host struct {
	// BwrapPath is the bwrap binary used to build the namespace; empty means PATH.
	BwrapPath string
}

var (
	_ Executor = (*Bwrap)(nil)
	_ Executor = (*Host)(nil)
)

// resolvConf is bound from the host so DNS works inside with the host's resolver, the
// one host file the sandbox deliberately shows.
const resolvConf = "/etc/resolv.conf"

// Run implements Executor.
func (b *Bwrap) Run(ctx context.Context, s Spec) error {
	if s.Rootfs == "" {
		return errors.New("run sandbox: Spec.Rootfs is empty; unpack the build image first (sandbox.Unpack)")
	}
	if fi, err := os.Stat(s.Rootfs); err != nil || !fi.IsDir() {
		return fmt.Errorf("run sandbox: rootfs %s is not a directory; unpack the build image first (sandbox.Unpack)", s.Rootfs)
	}
	bin, err := lookBwrap(b.Path)
	if err != nil {
		return err
	}
	root := []string{
		"--ro-bind", s.Rootfs, "/",
		"--proc", "/proc",
		"--dev", "/dev",
		"--perms", "1777", "--tmpfs", "/tmp",
	}
	// A read-only rootfs cannot grow a mount point, so bind resolv.conf only where the
	// image has a regular file for it (Unpack makes sure it does).
	if hasRegularFile(s.Rootfs, resolvConf) {
		root = append(root, "--ro-bind-try", resolvConf, resolvConf)
	}
	return run(ctx, bin, root, nil, s)
}

// Run implements Executor.
func (h *Host) Run(ctx context.Context, s Spec) error {
	bin, err := lookBwrap(h.BwrapPath)
	if err != nil {
		return err
	}
	entries, err := os.ReadDir("/")
	if err != nil {
		return fmt.Errorf("run host sandbox: list /: %w", err)
	}
	// bwrap's new root is a tmpfs; rebuilding / from the host's top-level entries (rather
	// than binding / itself) lets bwrap create /workspace, /layers … mount points on that
	// tmpfs without touching the host, and the tmpfs is remounted read-only at the end.
	var root []string
	for _, e := range entries {
		name := "/" + e.Name()
		switch e.Name() {
		case "proc", "dev", "tmp", "root", "home", "run":
			continue // replaced below
		}
		if e.Type()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(name)
			if err != nil {
				return fmt.Errorf("run host sandbox: read symlink %s: %w", name, err)
			}
			root = append(root, "--symlink", target, name)
			continue
		}
		root = append(root, "--ro-bind", name, name)
	}
	root = append(root,
		"--proc", "/proc",
		"--dev", "/dev",
		"--perms", "1777", "--tmpfs", "/tmp",
		"--tmpfs", "/root", "--tmpfs", "/home", "--tmpfs", "/run",
	)
	return run(ctx, bin, root, []string{"--remount-ro", "/"}, s)
}

// checkNested reports a bind whose destination lies inside an earlier read-only bind
// that lacks it: bwrap cannot create the mount point there and would fail with a
// less helpful message. The innermost enclosing bind decides.
func checkNested(earlier []Bind, b Bind) error {
	for i := len(earlier) - 1; i >= 0; i-- {
		p := earlier[i]
		rel, ok := strings.CutPrefix(b.Dest, strings.TrimSuffix(p.Dest, "/")+"/")
		if !ok {
			continue
		}
		if !p.ReadOnly {
			return nil
		}
		if _, err := os.Lstat(filepath.Join(p.Source, rel)); err != nil {
			return fmt.Errorf("run sandbox: bind destination %s lies inside read-only bind %s, whose source %s has no %s; create an empty file or dir there first",
				b.Dest, p.Dest, p.Source, rel)
		}
		return nil
	}
	return nil
}

func hasRegularFile(rootfs, name string) bool {
	r, err := os.OpenRoot(rootfs)
	if err != nil {
		return false
	}
	defer r.Close()
	fi, err := r.Lstat(strings.TrimPrefix(name, "/"))
	return err == nil && fi.Mode().IsRegular()
}

// run starts bwrap with the namespace and identity options common to both executors,
// the root layout, the Spec's binds, then the trailing options.
func run(ctx context.Context, bin string, root, trailing []string, s Spec) error {
	if len(s.Args) == 0 {
		return errors.New("run sandbox: Spec.Args is empty")
	}
	args := []string{
		"--die-with-parent", // a killed slipway never leaves buildpacks running
		"--new-session",     // no TIOCSTI injection into the caller's terminal
		"--unshare-user", "--uid", strconv.Itoa(s.UID), "--gid", strconv.Itoa(s.GID),
		"--disable-userns",
		"--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
	}
	args = append(args, root...)
	for i, b := range s.Binds {
		if !path.IsAbs(b.Dest) || path.Clean(b.Dest) != b.Dest {
			return fmt.Errorf("run sandbox: bind destination %q must be a clean absolute path", b.Dest)
		}
		if _, err := os.Stat(b.Source); err != nil {
			return fmt.Errorf("run sandbox: bind source for %s: %w", b.Dest, err)
		}
		if err := checkNested(s.Binds[:i], b); err != nil {
			return err
		}
		op := "--bind"
		if b.ReadOnly {
			op = "--ro-bind"
		}
		args = append(args, op, b.Source, b.Dest)
	}
	args = append(args, trailing...)
	args = append(args, "--clearenv")
	for _, kv := range s.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("run sandbox: environment entry %q is not NAME=value", kv)
		}
		args = append(args, "--setenv", k, v)
	}
	dir := s.Dir
	if dir == "" {
		dir = "/"
	}
	args = append(args, "--chdir", dir, "--json-status-fd", "3", "--")
	args = append(args, s.Args...)

	statusR, statusW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("run sandbox: %w", err)
	}
	defer statusR.Close()

	tail := &tailBuffer{max: 4096}
	stderr := io.Writer(tail)
	if s.Stderr != nil {
		stderr = io.MultiWriter(s.Stderr, tail)
	}
	stdout := s.Stdout
	if stdout == nil {
		stdout = io.Discard
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = []string{} // bwrap itself needs nothing from the host environment
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	cmd.ExtraFiles = []*os.File{statusW}
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		statusW.Close()
		return fmt.Errorf("start sandbox %s: %w", bin, err)
	}
	statusW.Close()

	var st status
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		st = readStatus(statusR)
	}()
	waitErr := cmd.Wait()
	wg.Wait()

	if ctx.Err() != nil {
		return fmt.Errorf("run sandbox %q: %w", s.Args[0], ctx.Err())
	}
	if st.exitCode != nil {
		if *st.exitCode == 0 {
			return nil
		}
		return &ExitError{Code: *st.exitCode}
	}
	if waitErr == nil {
		return nil
	}
	// No exit status from bwrap: the sandbox never started the process.
	return fmt.Errorf("set up sandbox for %q: %w: %s", s.Args[0], waitErr, strings.TrimSpace(tail.String()))
}

// status is what bwrap reports on --json-status-fd: one JSON document with the child pid
// when the process starts, one with its exit code when it ends.
type status struct {
	childStarted bool
	exitCode     *int
}

func readStatus(r io.Reader) status {
	var st status
	dec := json.NewDecoder(r)
	for {
		var doc struct {
			ChildPID *int `json:"child-pid"`
			ExitCode *int `json:"exit-code"`
		}
		if err := dec.Decode(&doc); err != nil {
			io.Copy(io.Discard, r)
			return st
		}
		if doc.ChildPID != nil {
			st.childStarted = true
		}
		if doc.ExitCode != nil {
			st.exitCode = doc.ExitCode
		}
	}
}

// tailBuffer keeps the last max bytes written, so a setup failure can quote bwrap's
// message without holding a chatty build's whole stderr.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf.Write(p)
	if over := t.buf.Len() - t.max; over > 0 {
		t.buf.Next(over)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.String()
}
