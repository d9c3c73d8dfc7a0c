package launch

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"unsafe"
)

// InitEnv names the variable that controls the launcher's init duties: unset or "auto" —
// only when the launcher is PID 1 (the container's first process); "false"/"0"/"off" —
// never (the process is exec'd and becomes PID 1 itself); "true"/"1"/"on" — always, as a
// child subreaper. See docs/architecture.md, "Launcher".
const InitEnv = "SLIPWAY_INIT"

// WantInit reports whether the launcher should supervise the process instead of exec'ing
// it, given its environment and PID.
func WantInit(env []string, pid int) (bool, error) {
	v, _ := lookupEnv(env, InitEnv)
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "auto":
		return pid == 1, nil
	case "false", "0", "off", "no":
		return false, nil
	case "true", "1", "on", "yes", "always":
		return true, nil
	}
	return false, fmt.Errorf("%s=%q: use auto (the default: only as PID 1), false or true", InitEnv, v)
}

// Supervise runs the process as a child and does what an init process must: the kernel
// sends no default-action signals to PID 1, so a process without its own SIGTERM handler
// (node, python) would ignore `podman stop` until SIGKILL; and orphaned grandchildren are
// reparented to PID 1, which must reap them or they stay zombies. Supervise forwards
// every signal it receives to the child's process group, reaps every child that exits, and returns the
// process's exit status (128+N when a signal N killed it), as a shell would report it.
//
// The launcher is made a child subreaper, so orphans reach it even when it is not PID 1.
func Supervise(path string, argv, env []string) (int, error) {
	if err := setSubreaper(); err != nil && os.Getpid() != 1 {
		return 0, fmt.Errorf("become child subreaper: %w", err)
	}
	sigs := make(chan os.Signal, 64)
	// Every signal, registered before the child exists so none is lost.
	signal.Notify(sigs)
	defer signal.Stop(sigs)

	// The process gets its own process group and signals go to the whole group, as
	// `tini -g` does: a start command is often a chain (npm → sh → node), and the process
	// that must shut down gracefully is the last one. With a terminal, the group becomes
	// its foreground group, so ^C reaches it once, from the terminal.
	sys := &syscall.SysProcAttr{Setpgid: true}
	if isTerminal(0) {
		sys.Foreground, sys.Ctty = true, 0
	}
	proc, err := os.StartProcess(path, argv, &os.ProcAttr{
		Env:   env,
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
		Sys:   sys,
	})
	if err != nil {
		return 0, err
	}
	pid := proc.Pid
	for {
		if status, done := reap(pid); done {
			return status, nil
		}
		sig := <-sigs
		s, ok := sig.(syscall.Signal)
		if !ok {
			continue
		}
		switch s {
		case syscall.SIGCHLD:
			// A child changed state: reaped at the top of the loop.
		case syscall.SIGURG:
			// The Go runtime preempts goroutines with SIGURG; it is not the user's.
		default:
			err := syscall.Kill(-pid, s)
			if err != nil {
				err = syscall.Kill(pid, s)
			}
			if err != nil && !errors.Is(err, syscall.ESRCH) {
				fmt.Fprintf(os.Stderr, "launcher: forward %v to %d: %v\n", s, pid, err)
			}
		}
	}
}

// reap collects every exited child without blocking; done is true once pid has exited,
// with its shell-style exit status.
func reap(pid int) (status int, done bool) {
	for {
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil || got <= 0 {
			return status, done
		}
		if got != pid || (!ws.Exited() && !ws.Signaled()) {
			continue
		}
		done = true
		if ws.Signaled() {
			status = 128 + int(ws.Signal())
		} else {
			status = ws.ExitStatus()
		}
	}
}

// isTerminal reports whether fd is a terminal.
func isTerminal(fd int) bool {
	var pgrp int32
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.TIOCGPGRP, uintptr(unsafe.Pointer(&pgrp)))
	return errno == 0
}

// setSubreaper makes orphaned descendants reparent to this process (prctl
// PR_SET_CHILD_SUBREAPER, Linux ≥ 3.4).
func setSubreaper() error {
	const prSetChildSubreaper = 36
	_, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
