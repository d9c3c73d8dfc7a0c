package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/slipway/slipway/api"
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

func newPhaseRunner(o Options, dirs *appDirs, rootfs string, imageEnv []string, uid, gid int, log *logging.Logger) (*phaseRunner, error) {
	home := homeDir(rootfs, uid)
	spec := sandbox.Spec{
		Rootfs: rootfs,
		Binds: []sandbox.Bind{
			{Source: dirs.workspace, Dest: platform.AppDir},
			{Source: dirs.layers, Dest: platform.LayersDir},
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
	homeBind, err := writableHome(rootfs, home, dirs.scratch)
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

// run runs `slipway lifecycle <phase> args…` in the sandbox, streaming its output.
func (r *phaseRunner) run(ctx context.Context, phase string, args ...string) error {
	out := r.log.Writer(logging.Info, "")
	defer out.Close()
	spec := r.spec
	spec.Args = append([]string{lifecycleBinaryPath, "lifecycle", phase}, args...)
	spec.Stdout, spec.Stderr = out, out
	err := r.exec.Run(ctx, spec)
	var ee *sandbox.ExitError
	if errors.As(err, &ee) {
		// The phase printed its own report; keep its exit code (platform.md, detector; platform.md, builder).
		return platform.NewError(ee.Code, fmt.Errorf("%s failed (exit code %d)", phase, ee.Code))
	}
	return err
}

// homeDir is the CNB user's home from the build image's /etc/passwd, as a container
// runtime would set HOME; "/" when the user has no entry.
func homeDir(rootfs string, uid int) string {
	b, err := os.ReadFile(filepath.Join(rootfs, "etc", "passwd"))
	if err != nil {
		return "/"
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 6 && f[2] == strconv.Itoa(uid) && f[5] != "" {
			return f[5]
		}
	}
	return "/"
}

// writableHome makes a fresh, empty host dir to bind at the CNB user's home, and the mount
// point for it in the unpacked rootfs (an empty dir, like the /workspace and /layers mount
// points Unpack makes). No bind for a home of "/" or one under the CNB paths.
func writableHome(rootfs, home, scratch string) (*sandbox.Bind, error) {
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
	if err := os.MkdirAll(filepath.Join(rootfs, home), 0o755); err != nil {
		return nil, fmt.Errorf("create home mount point %s in the build image rootfs: %w", home, err)
	}
	return &sandbox.Bind{Source: src, Dest: home}, nil
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
