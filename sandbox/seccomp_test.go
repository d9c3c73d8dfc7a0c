package sandbox_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/slipway/slipway/sandbox"
)

// The seccomp filter (docs/sandbox.md, Seccomp) refuses what buildpacks never need, even the
// calls an unprivileged process could make without it (keyctl, io_uring_setup), and clone3
// answers ENOSYS so the C library falls back to clone, whose namespace flags are refused.
// A static probe makes the raw system calls and prints each errno; ordinary calls still work.
func TestExecutorSeccompFilter(t *testing.T) {
	rootfs := buildRootfs(t)
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go toolchain not in PATH")
	}
	src := filepath.Join(t.TempDir(), "main.go")
	must(t, os.WriteFile(src, []byte(`package main

import (
	"fmt"
	"os"
	"syscall"
)

func try(name string, nr uintptr, a ...uintptr) {
	a = append(a, 0, 0, 0, 0, 0, 0)
	_, _, e := syscall.Syscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5])
	fmt.Printf("%s=%d\n", name, int(e))
}

func main() {
	try("keyctl", 250, 0 /* KEYCTL_GET_KEYRING_ID */, ^uintptr(2) /* session keyring */)
	try("io_uring_setup", 425, 1, 0)
	try("clone3", 435, 0, 0)
	try("clone_newuser", syscall.SYS_CLONE, syscall.CLONE_NEWUSER|uintptr(syscall.SIGCHLD))
	try("getpid_ok", syscall.SYS_GETPID)
	st, _ := os.ReadFile("/proc/self/status")
	for _, l := range bytes.Split(st, []byte("\n")) {
		if bytes.HasPrefix(l, []byte("Seccomp:")) {
			fmt.Printf("%s\n", bytes.Join(bytes.Fields(l), []byte(" ")))
		}
	}
}
`), 0o644))
	// The probe imports bytes too.
	b, _ := os.ReadFile(src)
	must(t, os.WriteFile(src, bytes.Replace(b, []byte(`"fmt"`), []byte(`"bytes"
	"fmt"`), 1), 0o644))
	probe := filepath.Join(t.TempDir(), "probe")
	build := exec.Command(goBin, "build", "-o", probe, src)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build probe: %v\n%s", err, out)
	}
	// EPERM is 1, ENOSYS 38; getpid returns no error.
	want := "keyctl=1\nio_uring_setup=1\nclone3=38\nclone_newuser=1\ngetpid_ok=0\nSeccomp: 2\n"
	for _, ec := range executors(t) {
		t.Run(ec.name, func(t *testing.T) {
			d := newCNBDirs(t)
			must(t, os.MkdirAll(filepath.Join(d.cnb, "lifecycle"), 0o755))
			must(t, os.WriteFile(filepath.Join(d.cnb, "lifecycle", "detector"), nil, 0o755))
			var out bytes.Buffer
			err := ec.ex.Run(t.Context(), sandbox.Spec{
				Rootfs: rootfs,
				Binds:  append(d.binds(), sandbox.Bind{Source: probe, Dest: "/cnb/lifecycle/detector", ReadOnly: true}),
				Args:   []string{"/cnb/lifecycle/detector"},
				Env:    []string{"PATH=" + sandboxPath},
				UID:    1000, GID: 1000, Stdout: &out,
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := out.String(); got != want {
				t.Errorf("output = %q, want %q", got, want)
			}
		})
	}
}
