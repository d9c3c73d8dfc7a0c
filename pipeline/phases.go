package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/slipway/slipway/api"
	"github.com/slipway/slipway/lifecycle"
	"github.com/slipway/slipway/logging"
	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/sandbox"
)

// lifecycleBinaryPath is where the slipway binary is mounted inside the sandbox.
const lifecycleBinaryPath = platform.LifecycleDir + "/slipway"

// phaseRunner runs the lifecycle phases of one build inside the sandbox: the build image's
// rootfs, the per-build dirs at the CNB paths, the slipway binary as the lifecycle, the CNB
// user, and nothing of the host's environment.
type phaseRunner struct {
	exec sandbox.Executor
	spec sandbox.Spec
	log  *logging.Logger
}

func newPhaseRunner(o Options, dirs *appDirs, rootfs, image string, imageEnv []string, uid, gid int, log *logging.Logger) (*phaseRunner, error) {
	home, err := homeDir(rootfs, uid, image)
	if err != nil {
		return nil, err
	}
	spec := sandbox.Spec{
		Rootfs: rootfs,
		// The per-build dirs buildpacks write are handed to the sandbox user (Owned).
		Binds: []sandbox.Bind{
			{Source: dirs.workspace, Dest: platform.AppDir, Owned: true},
			{Source: dirs.layers, Dest: platform.LayersDir, Owned: true},
			{Source: dirs.platform, Dest: platform.PlatformDir, ReadOnly: true},
			{Source: dirs.cnb, Dest: platform.CNBDir, ReadOnly: true},
			{Source: o.LifecycleBinary, Dest: lifecycleBinaryPath, ReadOnly: true},
		},
		Env:     sandboxEnv(imageEnv, home, log),
		Dir:     platform.AppDir,
		UID:     uid,
		GID:     gid,
		Network: o.Network,
	}
	// Buildpacks expect a writable, empty home as in a fresh build container (npm, yarn and
	// corepack write there); the rootfs is read-only, so a per-build dir is bound over it.
	homeBind, err := writableHome(rootfs, home, dirs.scratch, image)
	if err != nil {
		return nil, err
	}
	if homeBind != nil {
		spec.Binds = append(spec.Binds, *homeBind)
	}
	user, err := userBinds(o, dirs, rootfs, spec.Binds)
	if err != nil {
		return nil, err
	}
	spec.Binds = append(spec.Binds, user...)
	return &phaseRunner{exec: o.Executor, spec: spec, log: log}, nil
}

// run runs `slipway lifecycle <phase> args…` in the sandbox, streaming its output, and
// returns the time the phase spent in buildpack processes (lifecycle.ProcessTimeEnv).
func (r *phaseRunner) run(ctx context.Context, phase string, args ...string) (time.Duration, error) {
	logw := r.log.Writer(logging.Info, "")
	defer logw.Close()
	out := &processTimeFilter{w: logw}
	defer out.flush()
	spec := r.spec
	spec.Args = append([]string{lifecycleBinaryPath, "lifecycle", phase}, args...)
	spec.Env = append(append([]string{}, spec.Env...), lifecycle.ProcessTimeEnv+"=1")
	spec.Stdout, spec.Stderr = out, out
	err := r.exec.Run(ctx, spec)
	var ee *sandbox.ExitError
	if errors.As(err, &ee) {
		// The phase printed its own report; keep its exit code (platform.md, detector; platform.md, builder).
		return out.total, platform.NewError(ee.Code, fmt.Errorf("%s failed (exit code %d)", phase, ee.Code))
	}
	return out.total, err
}

// processTimeFilter passes a phase's output through to w, except the line that reports the
// time spent in buildpack processes, which it records.
type processTimeFilter struct {
	w     io.Writer
	mu    sync.Mutex
	buf   []byte
	total time.Duration
}

func (f *processTimeFilter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.buf = append(f.buf, p...)
	for {
		i := bytes.IndexByte(f.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := f.buf[:i+1]
		if ns, ok := bytes.CutPrefix(bytes.TrimSpace(line), []byte(lifecycle.ProcessTimePrefix)); ok {
			if n, err := strconv.ParseInt(string(ns), 10, 64); err == nil {
				f.total += time.Duration(n)
			}
		} else if _, err := f.w.Write(line); err != nil {
			return len(p), err
		}
		f.buf = f.buf[i+1:]
	}
}

func (f *processTimeFilter) flush() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.buf) > 0 {
		f.w.Write(f.buf)
		f.buf = nil
	}
}

// homeDir is the CNB user's home from the build image's /etc/passwd, as a container
// runtime would set HOME; "/" when the image has no /etc/passwd or no entry for the user.
// The file is read inside the rootfs (a symlinked /etc/passwd cannot name a host file), and
// the home must be a clean absolute path: it becomes a mount point (docs/sandbox.md).
func homeDir(rootfs string, uid int, image string) (string, error) {
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		return "", fmt.Errorf("open the rootfs of build image %s: %w", image, err)
	}
	defer root.Close()
	b, err := root.ReadFile("etc/passwd")
	if errors.Is(err, fs.ErrNotExist) {
		return "/", nil
	}
	if err != nil {
		return "", fmt.Errorf("build image %s: read /etc/passwd inside the image: %w", image, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 6 || f[2] != strconv.Itoa(uid) || f[5] == "" {
			continue
		}
		home := f[5]
		if !path.IsAbs(home) || path.Clean(home) != home {
			return "", fmt.Errorf("build image %s: the CNB user's home %q (uid %d in /etc/passwd) is not a clean absolute path; fix /etc/passwd in the build image", image, home, uid)
		}
		return home, nil
	}
	return "/", nil
}

// writableHome makes a fresh, empty host dir to bind at the CNB user's home, and the mount
// point for it in the unpacked rootfs (an empty dir, like the /workspace and /layers mount
// points Unpack makes). No bind for a home of "/" or one under the CNB paths. The mount
// point is made through os.Root, so a home that is (or lies under) a symlink leading out
// of the image is an error, never a directory created on the host.
func writableHome(rootfs, home, scratch, image string) (*sandbox.Bind, error) {
	if home == "/" || home == "" {
		return nil, nil
	}
	for _, p := range []string{platform.AppDir, platform.LayersDir, platform.PlatformDir, platform.CNBDir, "/tmp"} {
		if home == p || strings.HasPrefix(home, p+"/") {
			return nil, nil
		}
	}
	src := filepath.Join(scratch, "home")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return nil, fmt.Errorf("create build home: %w", err)
	}
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		return nil, fmt.Errorf("open the rootfs of build image %s: %w", image, err)
	}
	defer root.Close()
	if err := root.MkdirAll(strings.TrimPrefix(home, "/"), 0o755); err != nil {
		return nil, fmt.Errorf("build image %s: create the CNB user's home %s inside the image: %w; its path (and any symlink on it) must stay inside the image", image, home, err)
	}
	return &sandbox.Bind{Source: src, Dest: home, Owned: true}, nil
}

// sandboxEnv is the environment the phases start from inside the sandbox: the build
// image's Env (the phases themselves filter what reaches buildpacks), plus the Platform API.
func sandboxEnv(imageEnv []string, home string, log *logging.Logger) []string {
	env := append([]string{}, imageEnv...)
	env = append(env, "CNB_PLATFORM_API="+api.DefaultPlatform.String(), "HOME="+home)
	if log.IsDebug() {
		env = append(env, "CNB_LOG_LEVEL=debug")
	}
	return env
}
