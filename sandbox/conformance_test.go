package sandbox_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/slipway/slipway/internal/testimages"
	"github.com/slipway/slipway/sandbox"
)

// executorCase is one backend of the conformance suite. isolated backends switch to the
// build image's rootfs; the host backend keeps the host's files visible.
type executorCase struct {
	name     string
	ex       sandbox.Executor
	isolated bool
}

func executors(t *testing.T) []executorCase {
	t.Helper()
	bwrap, err := exec.LookPath("bwrap")
	if err != nil {
		t.Skip("bubblewrap is not installed (apt-get install bubblewrap)")
	}
	return []executorCase{
		{"bwrap", &sandbox.Bwrap{Path: bwrap}, true},
		{"host", &sandbox.Host{BwrapPath: bwrap}, false},
	}
}

// buildRootfs is the test build image unpacked the way a build does it, cached with the
// other fixtures so it is extracted once per machine.
func buildRootfs(t testing.TB) string {
	t.Helper()
	build, _ := testimages.BuildAndRun(t)
	dir, err := sandbox.Unpack(t.Context(), build, filepath.Join(testimages.CacheDir(t), "unpacked"))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// cnbDirs are per-build host dirs bound at the canonical CNB paths (platform.md, Usage (default locations)).
type cnbDirs struct{ workspace, layers, platform, cnb string }

func newCNBDirs(t *testing.T) cnbDirs {
	t.Helper()
	base := t.TempDir()
	d := cnbDirs{
		workspace: filepath.Join(base, "workspace"),
		layers:    filepath.Join(base, "layers"),
		platform:  filepath.Join(base, "platform"),
		cnb:       filepath.Join(base, "cnb"),
	}
	for _, p := range []string{d.workspace, d.layers, d.platform, d.cnb} {
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(d.workspace, "app.txt"), []byte("app source\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d cnbDirs) binds() []sandbox.Bind {
	return []sandbox.Bind{
		{Source: d.workspace, Dest: "/workspace", Owned: true},
		{Source: d.layers, Dest: "/layers", Owned: true},
		{Source: d.platform, Dest: "/platform", ReadOnly: true},
		{Source: d.cnb, Dest: "/cnb", ReadOnly: true},
	}
}

const sandboxPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// TestExecutorConformance runs one table against every executor (docs/architecture.md, "Tests").
// It covers platform.md, Build Image; platform.md, Security Considerations (detect and build run as the non-root CNB user, see no
// host credentials) and platform.md, Usage (default locations) (CNB dirs at their canonical paths).
func TestExecutorConformance(t *testing.T) {
	rootfs := buildRootfs(t)
	marker, err := os.MkdirTemp("/var/tmp", "slipway-host-marker-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(marker) })
	t.Setenv("SLIPWAY_HOST_MARKER", "leaked")
	hostNet, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	hostResolv, _ := os.ReadFile("/etc/resolv.conf")
	corePattern, err := os.ReadFile("/proc/sys/kernel/core_pattern")
	if err != nil {
		t.Fatal(err)
	}
	hostPort := listenLoopback(t)

	tests := []struct {
		name string
		// onlyIsolated marks checks that only hold when the rootfs is switched.
		onlyIsolated bool
		uid, gid     int
		network      sandbox.Network
		dir          string
		env          []string
		script       string
		check        func(t *testing.T, ec executorCase, r result)
	}{
		{
			name: "runs as the CNB user (platform.md, Build Image)", uid: 1000, gid: 1000,
			script: "id -u; id -g",
			check:  wantOutput("1000\n1000\n"),
		},
		{
			name: "runs as any given uid and gid", uid: 4321, gid: 4322,
			script: "id -u; id -g",
			check:  wantOutput("4321\n4322\n"),
		},
		{
			name: "sees bound dirs at canonical paths (platform.md, Usage (default locations))", uid: 1000, gid: 1000,
			script: "cat /workspace/app.txt; test -d /layers && test -d /platform && test -d /cnb && echo dirs",
			check:  wantOutput("app source\ndirs\n"),
		},
		{
			name: "writes /layers and /tmp, host sees /layers", uid: 1000, gid: 1000,
			script: "mkdir -p /layers/bp/l && echo built > /layers/bp/l/out && echo scratch > /tmp/s && cat /tmp/s",
			check: func(t *testing.T, ec executorCase, r result) {
				wantOutput("scratch\n")(t, ec, r)
				got, err := os.ReadFile(filepath.Join(r.dirs.layers, "bp", "l", "out"))
				if err != nil || string(got) != "built\n" {
					t.Errorf("host /layers/bp/l/out = %q, %v; want built", got, err)
				}
			},
		},
		{
			name: "read-only binds stay read-only", uid: 1000, gid: 1000,
			script: "touch /platform/x 2>/dev/null && echo wrote || echo denied",
			check:  wantOutput("denied\n"),
		},
		{
			name: "cannot write the root filesystem", uid: 1000, gid: 1000,
			script: "touch /usr/x /x 2>/dev/null && echo wrote || echo denied",
			check:  wantOutput("denied\n"),
		},
		{
			name: "host files are hidden (platform.md, Security Considerations)", onlyIsolated: true, uid: 1000, gid: 1000,
			script: "test -e " + marker + " && echo visible || echo hidden",
			check:  wantOutput("hidden\n"),
		},
		{
			name: "private network by default: own namespace, slirp4netns DNS", uid: 1000, gid: 1000,
			script: "readlink /proc/self/ns/net; cat /etc/resolv.conf",
			check: func(t *testing.T, ec executorCase, r result) {
				if r.err != nil {
					t.Fatalf("Run: %v", r.err)
				}
				ns, resolv, _ := strings.Cut(r.stdout, "\n")
				if ns == hostNet {
					t.Errorf("sandbox shares the host's network namespace %s", ns)
				}
				if !strings.Contains(resolv, "nameserver 10.0.2.3\n") {
					t.Errorf("resolv.conf = %q, want slirp4netns's DNS 10.0.2.3", resolv)
				}
			},
		},
		{
			name: "private network: host loopback services are unreachable", uid: 1000, gid: 1000,
			script: "for a in 127.0.0.1 10.0.2.2; do bash -c \"exec 3<>/dev/tcp/$a/$HOST_PORT\" 2>/dev/null && echo $a reached || echo $a refused; done",
			check:  wantOutput("127.0.0.1 refused\n10.0.2.2 refused\n"),
		},
		{
			name: "host network: shares the host's namespace, resolv.conf and loopback", uid: 1000, gid: 1000, network: sandbox.NetworkHost,
			script: "readlink /proc/self/ns/net; bash -c \"exec 3<>/dev/tcp/127.0.0.1/$HOST_PORT\" && echo reached; cat /etc/resolv.conf",
			check:  wantOutput(hostNet + "\nreached\n" + string(hostResolv)),
		},
		{
			name: "no capabilities, no new privileges", uid: 1000, gid: 1000,
			script: "grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs)' /proc/self/status | tr -s '\t' ' '",
			check:  wantOutput("CapInh: 0000000000000000\nCapPrm: 0000000000000000\nCapEff: 0000000000000000\nCapBnd: 0000000000000000\nCapAmb: 0000000000000000\nNoNewPrivs: 1\n"),
		},
		{
			name: "/proc/sys is read-only, core_pattern untouched", uid: 1000, gid: 1000,
			script: "echo '|/tmp/x' > /proc/sys/kernel/core_pattern 2>/dev/null && echo wrote || echo denied; awk '$5 == \"/proc/sys\" { print $6 }' /proc/self/mountinfo | cut -d, -f1",
			check: func(t *testing.T, ec executorCase, r result) {
				wantOutput("denied\nro\n")(t, ec, r)
				if got, _ := os.ReadFile("/proc/sys/kernel/core_pattern"); string(got) != string(corePattern) {
					t.Errorf("host core_pattern changed: %q → %q", corePattern, got)
				}
			},
		},
		{
			name: "writable binds are mounted nosuid,nodev", uid: 1000, gid: 1000,
			script: "awk '$5 == \"/workspace\" || $5 == \"/layers\" { print $5, $6 }' /proc/self/mountinfo",
			check: func(t *testing.T, ec executorCase, r result) {
				if r.err != nil {
					t.Fatalf("Run: %v", r.err)
				}
				lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
				if len(lines) != 2 {
					t.Fatalf("mounts = %q, want /workspace and /layers", r.stdout)
				}
				for _, l := range lines {
					if !strings.Contains(l, "nosuid") || !strings.Contains(l, "nodev") {
						t.Errorf("mount %q lacks nosuid,nodev", l)
					}
				}
			},
		},
		{
			name: "files written are owned by the host identity, never host root", uid: 1000, gid: 1000,
			script: "echo x > /layers/out && mkdir /workspace/d && echo ok",
			check: func(t *testing.T, ec executorCase, r result) {
				wantOutput("ok\n")(t, ec, r)
				want, err := sandbox.HostUser()
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range []string{filepath.Join(r.dirs.layers, "out"), filepath.Join(r.dirs.workspace, "d"), filepath.Join(r.dirs.workspace, "app.txt")} {
					uid, gid := ownerOf(t, p)
					if uid != want.UID || gid != want.GID {
						t.Errorf("%s is owned by %d:%d on the host, want %d:%d", p, uid, gid, want.UID, want.GID)
					}
					if os.Geteuid() == 0 && (uid == 0 || gid == 0) {
						t.Errorf("%s is owned by host root", p)
					}
				}
			},
		},
		{
			name: "working dir", uid: 1000, gid: 1000, dir: "/workspace",
			script: "pwd",
			check:  wantOutput("/workspace\n"),
		},
		{
			name: "exit code is an ExitError", uid: 1000, gid: 1000,
			script: "exit 42",
			check: func(t *testing.T, ec executorCase, r result) {
				var ee *sandbox.ExitError
				if !errors.As(r.err, &ee) || ee.Code != 42 {
					t.Errorf("err = %v, want *ExitError{42}", r.err)
				}
			},
		},
		{
			name: "death by signal is an ExitError of 128+signal", uid: 1000, gid: 1000,
			script: "kill -9 $$",
			check: func(t *testing.T, ec executorCase, r result) {
				var ee *sandbox.ExitError
				if !errors.As(r.err, &ee) || ee.Code != 128+9 {
					t.Errorf("err = %v, want *ExitError{137}", r.err)
				}
			},
		},
	}
	for _, ec := range executors(t) {
		t.Run(ec.name, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					if tc.onlyIsolated && !ec.isolated {
						t.Skip("the host executor keeps host files visible by design")
					}
					d := newCNBDirs(t)
					var out, errb bytes.Buffer
					err := ec.ex.Run(t.Context(), sandbox.Spec{
						Rootfs: rootfs,
						Binds:  d.binds(),
						Args:   []string{"sh", "-c", tc.script},
						Env:    []string{"PATH=" + sandboxPath, "CNB_PLATFORM_API=0.14", "HOST_PORT=" + hostPort},
						Dir:    tc.dir,
						UID:    tc.uid, GID: tc.gid,
						Network: tc.network,
						Stdout:  &out, Stderr: &errb,
					})
					if errb.Len() > 0 {
						t.Logf("stderr: %s", errb.String())
					}
					tc.check(t, ec, result{stdout: out.String(), err: err, dirs: d})
				})
			}
		})
	}
}

// result is what one conformance case observed.
type result struct {
	stdout string
	err    error
	dirs   cnbDirs
}

func wantOutput(want string) func(t *testing.T, ec executorCase, r result) {
	return func(t *testing.T, ec executorCase, r result) {
		t.Helper()
		if r.err != nil {
			t.Fatalf("Run: %v", r.err)
		}
		if r.stdout != want {
			t.Errorf("output = %q, want %q", r.stdout, want)
		}
	}
}

// The environment inside is exactly Spec.Env plus PWD (the working dir, which bwrap
// always sets): no host variable leaks, registry credentials included (platform.md, Security Considerations).
func TestExecutorEnvIsExactlySpecEnv(t *testing.T) {
	rootfs := buildRootfs(t)
	t.Setenv("SLIPWAY_HOST_MARKER", "leaked")
	t.Setenv("CNB_REGISTRY_AUTH", `{"example.test":"Basic c2VjcmV0"}`)
	env := []string{"PATH=" + sandboxPath, "CNB_LAYERS_DIR=/layers", "HOME=/home/cnb", "EMPTY=", "WITH_EQ=a=b"}
	for _, ec := range executors(t) {
		t.Run(ec.name, func(t *testing.T) {
			d := newCNBDirs(t)
			var out bytes.Buffer
			err := ec.ex.Run(t.Context(), sandbox.Spec{
				Rootfs: rootfs, Binds: d.binds(),
				Args: []string{"env"}, Env: env,
				UID: 1000, GID: 1000, Stdout: &out,
			})
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			slices.Sort(got)
			want := append(slices.Clone(env), "PWD=/")
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("env inside = %q, want %q", got, want)
			}
		})
	}
}

// Cancelling the context kills the sandboxed process and everything it started.
func TestExecutorCancelKills(t *testing.T) {
	rootfs := buildRootfs(t)
	for _, ec := range executors(t) {
		t.Run(ec.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			d := newCNBDirs(t)
			// A unique sleep argument lets us find leftovers in the host's /proc.
			arg := "600.4242"
			w := &cancelWriter{cancel: cancel, cmdline: "sleep\x00" + arg}
			err := ec.ex.Run(ctx, sandbox.Spec{
				Rootfs: rootfs, Binds: d.binds(),
				Args: []string{"sh", "-c", "sleep " + arg + " & echo started; wait"},
				Env:  []string{"PATH=" + sandboxPath},
				UID:  1000, GID: 1000,
				Stdout: w,
			})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			if !w.sawProcess {
				t.Fatal("the sandboxed sleep never showed up in /proc; the test checks nothing")
			}
			// The kernel reaps the pid namespace asynchronously; poll for it to finish.
			deadline := time.Now().Add(10 * time.Second)
			for hasProcess("sleep\x00" + arg) {
				if time.Now().After(deadline) {
					t.Fatal("sleep still running after Run returned on cancel")
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

// A sandbox that cannot be set up is an ordinary error, never an *ExitError, so it is
// not mistaken for a failing buildpack.
func TestExecutorSetupErrors(t *testing.T) {
	rootfs := buildRootfs(t)
	tests := []struct {
		name string
		spec sandbox.Spec
	}{
		{"missing bind source", sandbox.Spec{Rootfs: rootfs, Binds: []sandbox.Bind{{Source: "/nonexistent/slipway", Dest: "/layers"}}, Args: []string{"true"}}},
		{"relative bind dest", sandbox.Spec{Rootfs: rootfs, Binds: []sandbox.Bind{{Source: t.TempDir(), Dest: "layers"}}, Args: []string{"true"}}},
		{"no args", sandbox.Spec{Rootfs: rootfs}},
		{"bad env entry", sandbox.Spec{Rootfs: rootfs, Args: []string{"true"}, Env: []string{"NOEQUALS"}}},
		{"nested bind without a mount point in a read-only bind", sandbox.Spec{Rootfs: rootfs, Binds: []sandbox.Bind{
			{Source: t.TempDir(), Dest: "/cnb", ReadOnly: true}, {Source: "/bin/sh", Dest: "/cnb/lifecycle/slipway", ReadOnly: true}}, Args: []string{"true"}}},
		{"command not found", sandbox.Spec{Rootfs: rootfs, Args: []string{"/nonexistent-binary"}, Env: []string{"PATH=/usr/bin"}}},
	}
	for _, ec := range executors(t) {
		t.Run(ec.name, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					tc.spec.UID, tc.spec.GID = 1000, 1000
					err := ec.ex.Run(t.Context(), tc.spec)
					var ee *sandbox.ExitError
					if err == nil || errors.As(err, &ee) {
						t.Fatalf("err = %v, want a setup error", err)
					}
				})
			}
		})
	}
}

// The sandbox runs the slipway binary itself, bound read-only inside /cnb; it must be
// static because the build image's libc is not the host's (docs/architecture.md, "Sandbox").
func TestExecutorRunsStaticBinaryBoundReadOnly(t *testing.T) {
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
)

func main() {
	err := os.WriteFile("/layers/written-by-probe", []byte("ok"), 0o644)
	fmt.Println(os.Getuid(), os.Args[0], err == nil)
}
`), 0o644))
	probe := filepath.Join(t.TempDir(), "probe")
	build := exec.Command(goBin, "build", "-o", probe, src)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build probe: %v\n%s", err, out)
	}
	for _, ec := range executors(t) {
		t.Run(ec.name, func(t *testing.T) {
			d := newCNBDirs(t)
			// The mount point inside the read-only /cnb bind must exist beforehand.
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
			if got, want := out.String(), "1000 /cnb/lifecycle/detector true\n"; got != want {
				t.Errorf("output = %q, want %q", got, want)
			}
			if _, err := os.Stat(filepath.Join(d.layers, "written-by-probe")); err != nil {
				t.Errorf("host /layers lacks the probe's file: %v", err)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestBwrapRequiresRootfs(t *testing.T) {
	err := (&sandbox.Bwrap{}).Run(t.Context(), sandbox.Spec{Rootfs: filepath.Join(t.TempDir(), "missing"), Args: []string{"true"}})
	if err == nil || !strings.Contains(err.Error(), "Unpack") {
		t.Fatalf("err = %v, want one pointing at sandbox.Unpack", err)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		want    string
		wantErr bool
	}{
		{"bwrap", "*sandbox.Bwrap", false},
		{"host", "*sandbox.Host", false},
		{"auto", "*sandbox.Bwrap", false},
		{"docker", "", true},
	}
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Skip("bubblewrap is not installed")
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ex, err := sandbox.New(tc.name)
			if (err != nil) != tc.wantErr {
				t.Fatalf("New(%q) err = %v", tc.name, err)
			}
			if got := typeName(ex); !tc.wantErr && got != tc.want {
				t.Errorf("New(%q) = %s, want %s", tc.name, got, tc.want)
			}
		})
	}
}

func typeName(v any) string { return fmt.Sprintf("%T", v) }

// cancelWriter cancels the run on the first output, once the process named by cmdline
// is visible in the host's /proc, so the test knows there was something to kill.
type cancelWriter struct {
	once       sync.Once
	cancel     context.CancelFunc
	cmdline    string
	sawProcess bool
}

func (w *cancelWriter) Write(p []byte) (int, error) {
	w.once.Do(func() {
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if hasProcess(w.cmdline) {
				w.sawProcess = true
				break
			}
		}
		w.cancel()
	})
	return len(p), nil
}

func hasProcess(cmdline string) bool {
	m, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range m {
		b, err := os.ReadFile(p)
		if err == nil && strings.HasPrefix(string(b), cmdline) {
			return true
		}
	}
	return false
}

// listenLoopback accepts connections on a free 127.0.0.1 port of the host until the test
// ends, standing for the host's local services (a database, a registry, a metadata proxy).
func listenLoopback(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

func ownerOf(t *testing.T, p string) (int, int) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return int(st.Uid), int(st.Gid)
}
