package sandbox

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"sync"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// blockedSyscalls are what a buildpack never needs: administering the kernel or the
// machine, mounting and namespaces, escaping through file handles, the kernel keyring,
// BPF, perf, userfaultfd, io_uring, and other processes' memory. They fail with EPERM,
// as they would for an unprivileged user (most already do: the sandbox has no
// capability); the filter closes the ones an unprivileged process may still use, and
// shrinks the kernel surface a buildpack can reach (docs/sandbox.md, Seccomp).
var blockedSyscalls = []string{
	"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
	"reboot", "swapon", "swapoff", "acct", "settimeofday", "clock_settime", "clock_adjtime",
	"adjtimex", "syslog", "quotactl", "ioperm", "iopl", "vhangup", "lookup_dcookie",
	"mount", "umount2", "pivot_root", "unshare", "setns", "open_tree", "move_mount",
	"fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
	"open_by_handle_at", "name_to_handle_at",
	"keyctl", "add_key", "request_key",
	"bpf", "perf_event_open", "userfaultfd",
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	"process_vm_readv", "process_vm_writev",
}

// namespaceFlags are the clone(2) flags that make a new namespace: clone with any of them
// fails with EPERM. clone3 passes its flags in memory a filter cannot read, so it fails
// with ENOSYS, which makes the C library fall back to clone (as container runtimes do).
const namespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWUSER |
	unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP | unix.CLONE_NEWTIME

var seccompProgram = sync.OnceValues(func() ([]byte, error) {
	p := seccomp.Policy{
		DefaultAction: seccomp.ActionAllow,
		Syscalls: []seccomp.SyscallGroup{
			{Action: seccomp.ActionErrno, Names: blockedSyscalls},
			{Action: seccomp.ActionErrno, NamesWithCondtions: []seccomp.NameWithConditions{{
				Name:       "clone",
				Conditions: []seccomp.Condition{{Argument: 0, Operation: seccomp.BitsSet, Value: namespaceFlags}},
			}}},
			{Action: seccomp.ActionErrno | seccomp.Action(unix.ENOSYS), Names: []string{"clone3"}},
		},
	}
	insts, err := p.Assemble()
	if err != nil {
		return nil, fmt.Errorf("assemble the sandbox's seccomp filter: %w", err)
	}
	raw, err := bpf.Assemble(insts)
	if err != nil {
		return nil, fmt.Errorf("assemble the sandbox's seccomp filter: %w", err)
	}
	var b bytes.Buffer
	for _, ri := range raw {
		// struct sock_filter, in the machine's byte order as the kernel reads it.
		binary.Write(&b, binary.NativeEndian, ri)
	}
	return b.Bytes(), nil
})

// seccompFilter returns the options that make bwrap load the filter before it runs the
// process (bwrap --seccomp takes the compiled BPF program on an fd).
func (inv *invocation) seccompFilter() ([]string, error) {
	prog, err := seccompProgram()
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("run sandbox: %w", err)
	}
	_, err = w.Write(prog)
	w.Close()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("run sandbox: pass the seccomp filter: %w", err)
	}
	return []string{"--seccomp", inv.pass(r)}, nil
}
