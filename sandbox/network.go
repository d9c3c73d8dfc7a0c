package sandbox

import (
	"context"

	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// privateNet is the network of one NetworkPrivate run: slirp4netns gives the sandbox's
// network namespace a tap device whose traffic it forwards as ordinary sockets of the
// host, so buildpacks reach the internet; --disable-host-loopback keeps the host's
// 127.0.0.1 services out of reach (docs/sandbox.md).
type privateNet struct {
	blockR, blockW *os.File // the sandbox waits on blockR until the network is up
	slirp          *exec.Cmd
	exitW          *os.File // closing it stops slirp4netns
	stderr         *tailBuffer
}

func newPrivateNet() (*privateNet, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("run sandbox: %w", err)
	}
	return &privateNet{blockR: r, blockW: w}, nil
}

// slirpReadyTimeout bounds the wait for slirp4netns to configure the namespace.
const slirpReadyTimeout = 30 * time.Second

// start runs slirp4netns for the network namespace of pid and waits until it configured it.
func (n *privateNet) start(ctx context.Context, pid int, id HostIdentity) error {
	bin, err := exec.LookPath("slirp4netns")
	if err != nil {
		return fmt.Errorf("private build network: find slirp4netns: %w; install it (apt-get install slirp4netns) or pass --network host", err)
	}
	if !id.Privileged {
		if err := tunUsable(); err != nil {
			return err
		}
	}
	if err := waitLoopback(ctx, pid); err != nil {
		return err
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("private build network: %w", err)
	}
	defer readyR.Close()
	exitR, exitW, err := os.Pipe()
	if err != nil {
		readyW.Close()
		return fmt.Errorf("private build network: %w", err)
	}
	// slirp4netns enters the user namespace that owns the sandbox's network namespace
	// before it opens the tap device there. That is not the sandboxed process's own user
	// namespace (bwrap nests a second one to drop its setup privileges), so it is found
	// from the network namespace (NS_GET_USERNS) and passed by fd.
	owner, err := netnsOwner(pid)
	if err != nil {
		readyW.Close()
		exitR.Close()
		exitW.Close()
		return err
	}
	defer owner.Close()
	args := []string{"--configure", "--mtu=65520", "--disable-host-loopback",
		"--ready-fd=3", "--exit-fd=4", "--userns-path=/proc/self/fd/5", "--enable-seccomp"}
	if id.Privileged {
		// Root's slirp4netns (it needs /dev/net/tun, root-only on some hosts) gives up its
		// capabilities and the host filesystem once the tap device is open.
		args = append(args, "--enable-sandbox")
	}
	args = append(args, strconv.Itoa(pid), "tap0")
	n.stderr = &tailBuffer{max: 2048}
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{}
	cmd.Stderr = n.stderr
	cmd.ExtraFiles = []*os.File{readyW, exitR, owner}
	err = cmd.Start()
	readyW.Close()
	exitR.Close()
	if err != nil {
		exitW.Close()
		return fmt.Errorf("private build network: start %s: %w", bin, err)
	}
	n.slirp, n.exitW = cmd, exitW

	ready := make(chan error, 1)
	go func() {
		b := make([]byte, 1)
		_, err := readyR.Read(b)
		ready <- err
	}()
	timer := time.NewTimer(slirpReadyTimeout)
	defer timer.Stop()
	select {
	case err := <-ready:
		if err == nil {
			return nil
		}
		// slirp4netns exited (closing the ready fd) without configuring the namespace.
		return fmt.Errorf("private build network: slirp4netns failed: %s; pass --network host to use the host's network", n.reason())
	case <-timer.C:
		return fmt.Errorf("private build network: slirp4netns did not come up within %s: %s", slirpReadyTimeout, n.reason())
	case <-ctx.Done():
		return ctx.Err()
	}
}

// tunDevice is the device slirp4netns opens inside the sandbox's network namespace.
const tunDevice = "/dev/net/tun"

// tunUsable tells a rootless run up front when slirp4netns cannot open the tun device
// (some hosts make it root-only), instead of slirp4netns' "open(/dev/net/tun): Permission denied".
func tunUsable() error {
	f, err := os.OpenFile(tunDevice, os.O_RDWR, 0)
	if err == nil {
		f.Close()
		return nil
	}
	mode := ""
	if fi, serr := os.Stat(tunDevice); serr == nil {
		mode = fmt.Sprintf(" (mode %v)", fi.Mode().Perm())
	}
	return fmt.Errorf("private build network: %s%s cannot be opened by uid %d: %v; a rootless build's private network needs it: "+
		"ask the host's admin to make it 0666 (most distributions' default), or pass --network host", tunDevice, mode, os.Getuid(), err)
}

func (n *privateNet) reason() string {
	if msg := strings.TrimSpace(n.stderr.String()); msg != "" {
		return msg
	}
	return "no message"
}

// release lets the sandboxed process start (or, after a failed start, be reaped).
func (n *privateNet) release() {
	if n.blockW != nil {
		n.blockW.Write([]byte{1})
		n.blockW.Close()
		n.blockW = nil
	}
}

// close stops slirp4netns and frees the pipes.
func (n *privateNet) close() {
	n.release()
	if n.slirp == nil {
		return
	}
	n.exitW.Close()
	done := make(chan error, 1)
	go func() { done <- n.slirp.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		n.slirp.Process.Kill()
		<-done
	}
}

// nsGetUserns is NS_GET_USERNS from linux/nsfs.h: an fd for the owning user namespace.
const nsGetUserns = 0xb701

// netnsOwner opens the user namespace that owns the network namespace of pid.
func netnsOwner(pid int) (*os.File, error) {
	netns, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/net")
	if err != nil {
		return nil, fmt.Errorf("private build network: %w", err)
	}
	defer netns.Close()
	fd, _, errno := syscall.Syscall(syscall.SYS_IOCTL, netns.Fd(), nsGetUserns, 0)
	if errno != 0 {
		return nil, fmt.Errorf("private build network: find the owner of the sandbox's network namespace: %w", errno)
	}
	return os.NewFile(fd, "userns"), nil
}

// waitLoopback waits until bwrap has given the sandbox's loopback device its address.
// slirp4netns brings "lo" up as it configures the namespace, and an up loopback gets
// 127.0.0.1 from the kernel; bwrap, adding that address exclusively, would then fail.
func waitLoopback(ctx context.Context, pid int) error {
	trie := "/proc/" + strconv.Itoa(pid) + "/net/fib_trie"
	deadline := time.Now().Add(slirpReadyTimeout)
	for delay := 200 * time.Microsecond; ; delay = min(2*delay, 20*time.Millisecond) {
		b, err := os.ReadFile(trie)
		if err != nil {
			// The sandbox's first process is gone: bwrap failed, and says why.
			return fmt.Errorf("private build network: sandbox exited during setup: %w", err)
		}
		if strings.Contains(string(b), "127.0.0.1") {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("private build network: sandbox loopback not configured within %s", slirpReadyTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
}
