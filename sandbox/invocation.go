package sandbox

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// stageDir is where, for a root slipway, the staging bwrap mounts the sandbox's bind
// sources, in its own mount namespace only.
const stageDir = "/tmp"

// invocation collects what one sandboxed run passes to bwrap besides arguments: the host
// identity, inherited files, and for a root slipway the staging of bind sources.
//
// Why staging: bwrap runs as the unprivileged host id, so it must be able to reach every
// bind source, and build dirs often live under a root-only dir (/root/.cache, a 0700 temp
// dir). A first bwrap, still root and with nothing but a private mount namespace, binds
// each source at /tmp/<n> on a fresh tmpfs (in its namespace only), then runs the sandbox
// bwrap through setpriv(1) as the unprivileged id with every capability dropped.
type invocation struct {
	id      HostIdentity
	network Network
	files   []*os.File // passed to bwrap as fds 3, 4, …
	child   []*os.File // the ends only the child uses, closed once it started
	stage   []string
	n       int
}

func newInvocation(s Spec) (*invocation, error) {
	id, err := HostUser()
	if err != nil {
		return nil, fmt.Errorf("run sandbox: choose the sandbox user's host id: %w", err)
	}
	network := s.Network
	if network == "" {
		network = NetworkPrivate
	}
	if _, err := ParseNetwork(string(network)); err != nil {
		return nil, fmt.Errorf("run sandbox: %w", err)
	}
	return &invocation{id: id, network: network}, nil
}

// source returns the path under which bwrap finds the host path p.
func (inv *invocation) source(p string) string {
	if !inv.id.Privileged {
		return p
	}
	staged := fmt.Sprintf("%s/%d", stageDir, inv.n)
	inv.n++
	inv.stage = append(inv.stage, "--bind", p, staged)
	return staged
}

// pass hands f to bwrap and returns its fd number there; the caller's copy is closed
// once bwrap started.
func (inv *invocation) pass(f *os.File) string {
	inv.files = append(inv.files, f)
	inv.child = append(inv.child, f)
	return strconv.Itoa(2 + len(inv.files))
}

// resolvConf returns the options that give the sandbox its DNS configuration.
func (inv *invocation) resolvConf() ([]string, error) {
	if inv.network == NetworkHost {
		return []string{"--ro-bind-try", resolvConf, resolvConf}, nil
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("run sandbox: %w", err)
	}
	// slirp4netns forwards DNS at the third address of its network (10.0.2.3).
	_, err = w.WriteString("# slipway private network (docs/sandbox.md): slirp4netns's DNS forwarder\nnameserver 10.0.2.3\n")
	w.Close()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("run sandbox: write resolv.conf: %w", err)
	}
	return []string{"--ro-bind-data", inv.pass(r), resolvConf}, nil
}

// command returns the program and arguments that run the sandbox bwrap with args.
func (inv *invocation) command(bwrap string, args []string) (string, []string, error) {
	if !inv.id.Privileged {
		return bwrap, args, nil
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		return "", nil, fmt.Errorf("run sandbox as root: find setpriv: %w; install util-linux", err)
	}
	// Its own pid namespace makes the staging bwrap's first process an init whose death
	// (it dies with a killed slipway) takes down everything below it: the sandbox bwrap
	// cannot hold a parent-death signal across the uid change.
	stage := []string{"--die-with-parent", "--unshare-pid", "--dev-bind", "/", "/", "--tmpfs", stageDir}
	stage = append(stage, inv.stage...)
	stage = append(stage, "--", setpriv,
		"--reuid", strconv.Itoa(inv.id.UID), "--regid", strconv.Itoa(inv.id.GID), "--clear-groups",
		"--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--", bwrap)
	return bwrap, append(stage, args...), nil
}

// hostPID translates the sandbox's first process, as the sandbox bwrap reports it, to a
// host pid. Under the staging bwrap that pid is one of the staging pid namespace, so the
// descendants of the started process are searched for it (/proc/<pid>/status NSpid).
func (inv *invocation) hostPID(started, reported int) (int, error) {
	if !inv.id.Privileged {
		return reported, nil
	}
	want := strconv.Itoa(reported)
	queue := []int{started}
	for len(queue) > 0 && len(queue) < 64 {
		pid := queue[0]
		queue = queue[1:]
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(pid) + "/children")
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			child, err := strconv.Atoi(f)
			if err != nil {
				continue
			}
			if ns := nsPIDs(child); len(ns) >= 3 && ns[1] == want {
				return child, nil
			}
			queue = append(queue, child)
		}
	}
	return 0, fmt.Errorf("private build network: cannot find the sandbox process %d on the host", reported)
}

// nsPIDs is the NSpid line of /proc/<pid>/status: the pid in each nested pid namespace.
func nsPIDs(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return nil
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "NSpid:"); ok {
			return strings.Fields(rest)
		}
	}
	return nil
}

func (inv *invocation) closeChildEnds() {
	for _, f := range inv.child {
		f.Close()
	}
	inv.child = nil
}

func (inv *invocation) close() { inv.closeChildEnds() }
