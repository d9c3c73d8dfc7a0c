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
// read-only at /, with a fresh /proc (its /proc/sys read-only), a minimal /dev, a tmpfs /tmp
// and the Spec's binds. The network is Spec.Network: by default a private namespace whose
// only way out is user-mode NAT (docs/sandbox.md).
//
// The CNB user is realised with a user namespace that maps UID:GID inside to HostUser
// outside: the invoking user for a rootless slipway, a dedicated unprivileged id when
// slipway runs as root. Files the buildpacks write into bound dirs are owned by that id on
// the host; the exporter sets the CNB uid/gid in the tar headers (platform.md, Exporter),
// so host ownership never reaches the image.
type Bwrap struct {
	// Path is the bwrap binary; empty means look it up in PATH.
	Path string
}

// Host keeps the host's filesystem (read-only) instead of switching to a rootfs, for CI
// runners that already are the build environment. It still gives the process private
// mount, pid, ipc, uts and (by default) network namespaces, binds the CNB paths, mounts a
// tmpfs /tmp and runs it as UID:GID mapped like Bwrap's. Host home and runtime dirs
// (/root, /home, /run) are masked with empty tmpfs because registry credentials live there
// (platform.md, Security Considerations), and so are the host's password hashes, sudo rules
// and private keys (hostSecrets); anything else on the host stays visible, which is why
// Bwrap is the default.
type Host struct {
	// BwrapPath is the bwrap binary used to build the namespace; empty means PATH.
	BwrapPath string
}

var (
	_ Executor = (*Bwrap)(nil)
	_ Executor = (*Host)(nil)
)

// resolvConf is where DNS is configured: with the host network, the host's file is bound
// (the one host file the sandbox deliberately shows); with the private network, a file
// naming slirp4netns's DNS forwarder.
const resolvConf = "/etc/resolv.conf"

// hostSecrets are host files and dirs the host executor masks even though the sandbox
// user could not read most of them anyway: defence in depth against a host whose
// permissions are looser than Debian's.
var hostSecrets = []string{
	"/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-",
	"/etc/sudoers", "/etc/sudoers.d", "/etc/ssh", "/etc/ssl/private",
	"/etc/security/opasswd", "/etc/docker", "/etc/containers/auth.json",
	"/var/lib/docker", "/var/lib/containers", "/var/lib/sss",
}

// Run implements Executor.
func (b *Bwrap) Run(ctx context.Context, s Spec) error {
	return retrySetup(func() error { return b.run(ctx, s) })
}

func (b *Bwrap) run(ctx context.Context, s Spec) error {
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
	inv, err := newInvocation(s)
	if err != nil {
		return err
	}
	defer inv.close()
	root := []string{
		"--ro-bind", inv.source(s.Rootfs), "/",
		"--proc", "/proc", "--ro-bind", "/proc/sys", "/proc/sys",
		"--dev", "/dev",
		"--perms", "1777", "--tmpfs", "/tmp",
	}
	// A read-only rootfs cannot grow a mount point, so bind resolv.conf only where the
	// image has a regular file for it (Unpack makes sure it does).
	if hasRegularFile(s.Rootfs, resolvConf) {
		dns, err := inv.resolvConf()
		if err != nil {
			return err
		}
		root = append(root, dns...)
	}
	return run(ctx, bin, inv, root, nil, s)
}

// Run implements Executor.
func (h *Host) Run(ctx context.Context, s Spec) error {
	return retrySetup(func() error { return h.run(ctx, s) })
}

func (h *Host) run(ctx context.Context, s Spec) error {
	bin, err := lookBwrap(h.BwrapPath)
	if err != nil {
		return err
	}
	entries, err := os.ReadDir("/")
	if err != nil {
		return fmt.Errorf("run host sandbox: list /: %w", err)
	}
	inv, err := newInvocation(s)
	if err != nil {
		return err
	}
	defer inv.close()
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
		"--proc", "/proc", "--ro-bind", "/proc/sys", "/proc/sys",
		"--dev", "/dev",
		"--perms", "1777", "--tmpfs", "/tmp",
		"--tmpfs", "/root", "--tmpfs", "/home", "--tmpfs", "/run",
	)
	root = append(root, maskSecrets(hostSecrets)...)
	if hasRegularFile("/", resolvConf) {
		dns, err := inv.resolvConf()
		if err != nil {
			return err
		}
		root = append(root, dns...)
	}
	return run(ctx, bin, inv, root, []string{"--remount-ro", "/"}, s)
}

// maskSecrets hides each existing path: files behind an empty read-only file, dirs behind
// an empty read-only tmpfs. Symlinks are left alone: they point at a path masked here or
// at one the sandbox cannot see.
func maskSecrets(paths []string) []string {
	var args []string
	for _, p := range paths {
		fi, err := os.Lstat(p)
		if err != nil {
			continue
		}
		switch {
		case fi.IsDir():
			args = append(args, "--perms", "0555", "--tmpfs", p, "--remount-ro", p)
		case fi.Mode().IsRegular():
			args = append(args, "--ro-bind", "/dev/null", p)
		}
	}
	return args
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
// the root layout, the Spec's binds, then the trailing options; for a root slipway, through
// the staging step of invocation.command.
func run(ctx context.Context, bin string, inv *invocation, root, trailing []string, s Spec) error {
	if len(s.Args) == 0 {
		return errors.New("run sandbox: Spec.Args is empty")
	}
	args := []string{
		"--die-with-parent", // a killed slipway never leaves buildpacks running
		"--new-session",     // no TIOCSTI injection into the caller's terminal
		"--unshare-user", "--uid", strconv.Itoa(s.UID), "--gid", strconv.Itoa(s.GID),
		"--disable-userns",
		"--cap-drop", "ALL",
		"--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
	}
	if inv.network == NetworkPrivate {
		args = append(args, "--unshare-net")
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
		} else if b.Owned && inv.id.Privileged {
			if err := own(b.Source, inv.id); err != nil {
				return fmt.Errorf("run sandbox: %w", err)
			}
		}
		args = append(args, op, inv.source(b.Source), b.Dest)
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

	statusR, statusW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("run sandbox: %w", err)
	}
	defer statusR.Close()
	args = append(args, "--chdir", dir, "--json-status-fd", inv.pass(statusW))
	var netw *privateNet
	if inv.network == NetworkPrivate {
		// The process waits on --block-fd until slirp4netns has configured its network.
		if netw, err = newPrivateNet(); err != nil {
			return err
		}
		defer netw.close()
		args = append(args, "--block-fd", inv.pass(netw.blockR))
	}
	filter, err := inv.seccompFilter()
	if err != nil {
		return err
	}
	args = append(args, filter...)
	args = append(args, "--")
	args = append(args, s.Args...)

	name, argv, err := inv.command(bin, args)
	if err != nil {
		return err
	}
	tail := &tailBuffer{max: 4096}
	stderr := io.Writer(tail)
	if s.Stderr != nil {
		stderr = io.MultiWriter(s.Stderr, tail)
	}
	stdout := s.Stdout
	if stdout == nil {
		stdout = io.Discard
	}
	cmd := exec.CommandContext(ctx, name, argv...)
	cmd.Env = []string{} // bwrap itself needs nothing from the host environment
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	cmd.ExtraFiles = inv.files
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		inv.closeChildEnds()
		return fmt.Errorf("start sandbox %s: %w", name, err)
	}
	inv.closeChildEnds()

	dec := json.NewDecoder(statusR)
	var st status
	var netErr error
	if netw != nil {
		// The first document names the sandbox's first process; its network namespace is
		// the one slirp4netns serves. No document means bwrap failed before it (reported below).
		if pid, ok := readChildPID(dec, &st); ok {
			if pid, netErr = inv.hostPID(cmd.Process.Pid, pid); netErr == nil {
				netErr = netw.start(ctx, pid, inv.id)
			}
			if netErr != nil {
				cmd.Process.Kill() // never run the process without the network it asked for
			}
		}
		netw.release()
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		readStatus(dec, &st)
		io.Copy(io.Discard, statusR) // never leave bwrap blocked on a full pipe
	}()
	waitErr := cmd.Wait()
	wg.Wait()

	if ctx.Err() != nil {
		return fmt.Errorf("run sandbox %q: %w", s.Args[0], ctx.Err())
	}
	if netErr != nil {
		return netErr // the process was killed before it started
	}
	if st.exitCode != nil {
		if *st.exitCode == 0 {
			return nil
		}
		return &ExitError{Code: *st.exitCode}
	}
	// No exit status from bwrap: the sandbox never started the process.
	msg := strings.TrimSpace(tail.String())
	if waitErr == nil {
		return nil
	}
	err = fmt.Errorf("set up sandbox for %q: %v: %s", s.Args[0], waitErr, msg)
	if strings.Contains(msg, transientLoopback) {
		return &transientSetupError{err}
	}
	return err
}

// transientLoopback is how bwrap 0.8 reports a failure to configure the loopback device of
// a fresh network namespace, e.g. when 127.0.0.1 appeared there first (reported with a
// stale errno). privateNet waits for bwrap's loopback before slirp4netns touches the
// namespace, so this should not happen; if it does, the process has not started and the
// run is simply repeated.
const transientLoopback = "loopback: Failed RTM_NEWADDR"

type transientSetupError struct{ err error }

func (e *transientSetupError) Error() string { return e.err.Error() }
func (e *transientSetupError) Unwrap() error { return e.err }

// retrySetup runs attempt until it does not fail with a transient setup error, at most
// three times.
func retrySetup(attempt func() error) error {
	for i := 1; ; i++ {
		err := attempt()
		var te *transientSetupError
		if i < 3 && errors.As(err, &te) {
			continue
		}
		return err
	}
}

// status is what bwrap reports on --json-status-fd: one JSON document with the child pid
// when the process starts, one with its exit code when it ends.
type status struct {
	childStarted bool
	childPID     int
	exitCode     *int
}

// readChildPID reads status documents up to the one naming the child pid.
func readChildPID(dec *json.Decoder, st *status) (int, bool) {
	for !st.childStarted {
		if !st.decode(dec) {
			return 0, false
		}
	}
	return st.childPID, true
}

// readStatus reads the remaining status documents until bwrap closes the fd.
func readStatus(dec *json.Decoder, st *status) {
	for st.decode(dec) {
	}
}

func (st *status) decode(dec *json.Decoder) bool {
	var doc struct {
		ChildPID *int `json:"child-pid"`
		ExitCode *int `json:"exit-code"`
	}
	if err := dec.Decode(&doc); err != nil {
		return false
	}
	if doc.ChildPID != nil {
		st.childStarted = true
		st.childPID = *doc.ChildPID
	}
	if doc.ExitCode != nil {
		st.exitCode = doc.ExitCode
	}
	return true
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
