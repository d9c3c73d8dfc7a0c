package sandbox

import (
	"context"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/slipway/slipway/imagestore"
	"github.com/slipway/slipway/internal/e2ekit"
	"github.com/slipway/slipway/layer"
	"github.com/slipway/slipway/sandbox"
)

// attackBuilder writes a builder.toml with the hostile test buildpack (testdata/buildpacks/
// attack) on buildImage.
func attackBuilder(e *e2ekit.Env, buildImage string) string {
	t := e.T
	t.Helper()
	p := filepath.Join(e.TempDir(), "builder.toml")
	e2ekit.WriteFile(t, p, fmt.Sprintf(`
[[buildpacks]]
  uri = %q
[[order]]
  [[order.group]]
    id = "test/attack"
    version = "1.0.0"
[build]
  image = %q
[[run.images]]
  image = %q
`, filepath.Join(e2ekit.RepoRoot, "e2e", "testdata", "buildpacks", "attack"), buildImage, e2ekit.RunImageName))
	return p
}

// report collects the buildpack's "report: key=value" lines.
func report(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		_, kv, ok := strings.Cut(line, "report: ")
		if !ok {
			continue
		}
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

// loopbackService listens on a free 127.0.0.1 port until the test ends: the host's local
// services (a database, a registry) a buildpack must not reach by default.
func loopbackService(t *testing.T) string {
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

// hostState is what an attack from a build must leave unchanged on the host.
type hostState struct {
	corePattern []byte
	canary      string
}

func snapshotHost(t *testing.T) hostState {
	t.Helper()
	cp, err := os.ReadFile("/proc/sys/kernel/core_pattern")
	if err != nil {
		t.Fatal(err)
	}
	return hostState{corePattern: cp, canary: filepath.Join(t.TempDir(), "payload-ran")}
}

func (h hostState) check(t *testing.T) {
	t.Helper()
	if cp, _ := os.ReadFile("/proc/sys/kernel/core_pattern"); string(cp) != string(h.corePattern) {
		t.Errorf("host core_pattern changed from %q to %q", h.corePattern, cp)
		os.WriteFile("/proc/sys/kernel/core_pattern", h.corePattern, 0o644) // undo for the machine
	}
	if _, err := os.Lstat(h.canary); err == nil {
		t.Errorf("the core_pattern payload ran on the host (created %s)", h.canary)
	}
}

// rootSetuidFiles lists files under dir with the setuid or setgid bit owned by uid or gid 0.
func rootSetuidFiles(t *testing.T, dir string) []string {
	t.Helper()
	var found []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil || fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid) == 0 {
			return nil
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid == 0 || st.Gid == 0 {
			found = append(found, p)
		}
		return nil
	})
	return found
}

func findFile(t *testing.T, dir, name string) string {
	t.Helper()
	var hit string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == name && hit == "" {
			hit = p
		}
		return nil
	})
	if hit == "" {
		t.Fatalf("%s not found under %s", name, dir)
	}
	return hit
}

func ownerIDs(t *testing.T, p string) (int, int) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return int(st.Uid), int(st.Gid)
}

// The sandbox report (issue "The sandbox must hold"): a hostile buildpack prints, from inside
// a build run by root, who it is, its capabilities, its writable mounts and what it can
// reach, and tries the core_pattern escape and a setuid-root file; each observation is
// asserted, and so is the host afterwards. Then the same with --network host.
func TestSandboxReport(t *testing.T) {
	want, err := sandbox.HostUser()
	if err != nil {
		t.Fatal(err)
	}
	if want.UID == 0 || want.GID == 0 {
		t.Fatalf("HostUser = %+v under root; the sandbox user must not be host root", want)
	}
	sandboxReport(t, e2ekit.NewEnv(t), want.UID, want.GID)
}

// The same report with slipway run by an unprivileged user: the CNB user maps to that
// user. Where /dev/net/tun is root-only, the private network cannot start; the build
// stops first with an error naming the device and the way out.
func TestSandboxReportRootless(t *testing.T) {
	e := e2ekit.NewEnv(t).AsUser(e2ekit.Unprivileged, e2ekit.Unprivileged)
	setTunMode(t, 0o600)
	out, code := e.Slipway("build", "tunless", "--path", e2ekit.App("hello"), "--builder", attackBuilder(e, e2ekit.BuildImageName))
	assertFailedWith(t, out, code, "/dev/net/tun", "--network host", "uid 65534")
	if strings.Contains(out, "report: ") {
		t.Errorf("the buildpack ran without its private network:\n%s", out)
	}
	setTunMode(t, 0o666)
	sandboxReport(t, e, e2ekit.Unprivileged, e2ekit.Unprivileged)
}

// sandboxReport builds with the attack buildpack in e and checks its report, with
// wantUID:wantGID the host ids files written by buildpacks must have.
func sandboxReport(t *testing.T, e *e2ekit.Env, wantUID, wantGID int) {
	builder := attackBuilder(e, e2ekit.BuildImageName)
	port := loopbackService(t)
	host := snapshotHost(t)
	args := []string{"build", "attacked", "--path", e2ekit.App("hello"), "--builder", builder,
		"--env", "HOST_PORT=" + port, "--env", "CANARY=" + host.canary, "--env", "INTERNET_HOST=deb.debian.org"}
	out := e.MustSlipway(args...)
	got := report(out)
	t.Logf("sandbox report (default network):\n%s", reportLines(out))
	expect := map[string]string{
		"uid": "1000", "gid": "1000",
		"CapInh": "0000000000000000", "CapPrm": "0000000000000000", "CapEff": "0000000000000000",
		"CapBnd": "0000000000000000", "CapAmb": "0000000000000000", "NoNewPrivs": "1",
		"loopback": "refused", "host-alias": "refused", "internet": "reached",
		"core_pattern": "denied", "suid-mode": "4755",
	}
	for k, v := range expect {
		if got[k] != v {
			t.Errorf("report %s = %q, want %q", k, got[k], v)
		}
	}
	// Writable: the per-build dirs, the home, /tmp, /dev's tmpfs and /dev/shm-like entries
	// bwrap makes, and /proc (its writable files are the process's own) — nothing of the host.
	for _, m := range strings.Fields(got["rw-mounts"]) {
		switch {
		case m == "/workspace", m == "/layers", m == "/tmp", m == "/proc", m == "/home/cnb",
			m == "/dev", strings.HasPrefix(m, "/dev/"):
		default:
			t.Errorf("unexpected writable mount %s (all: %s)", m, got["rw-mounts"])
		}
	}
	for _, m := range []string{"mount/workspace", "mount/layers"} {
		if o := got[m]; !strings.Contains(o, "nosuid") || !strings.Contains(o, "nodev") || !strings.HasPrefix(o, "rw") {
			t.Errorf("%s options %q, want rw,nosuid,nodev", m, o)
		}
	}
	if o := got["mount/proc/sys"]; !strings.HasPrefix(o, "ro") {
		t.Errorf("/proc/sys options %q, want read-only", o)
	}
	// As the host sees it: what the buildpack wrote belongs to the unprivileged id.
	probe := findFile(t, filepath.Join(e.Work, "slipway", "apps"), ".sandbox-probe")
	if uid, gid := ownerIDs(t, probe); uid != wantUID || gid != wantGID {
		t.Errorf("%s is owned by %d:%d on the host, want the sandbox id %d:%d", probe, uid, gid, wantUID, wantGID)
	}
	apps := filepath.Join(e.Work, "slipway", "apps") // the per-build dirs, not the unpacked build image
	suid := findFile(t, apps, "sh")
	if uid, _ := ownerIDs(t, suid); uid != wantUID {
		t.Errorf("the setuid shell %s is owned by uid %d on the host, want %d", suid, uid, wantUID)
	}
	host.check(t)
	// Built twice: the cached layer is restored by the host side, still no setuid-root file.
	e.MustSlipway(args...)
	if files := rootSetuidFiles(t, apps); len(files) > 0 {
		t.Errorf("setuid/setgid files owned by host root after the builds: %v", files)
	}
	host.check(t)

	out = e.MustSlipway(append(args, "--network", "host")...)
	got = report(out)
	t.Logf("sandbox report (--network host):\n%s", reportLines(out))
	if got["loopback"] != "reached" || got["uid"] != "1000" || got["CapEff"] != "0000000000000000" {
		t.Errorf("--network host: loopback %q uid %q CapEff %q; want reached, 1000, no capabilities", got["loopback"], got["uid"], got["CapEff"])
	}
	host.check(t)
}

func reportLines(out string) string {
	var b strings.Builder
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "report: ") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// --sandbox host keeps the host's filesystem, but not its secrets: /etc/shadow is neither
// readable (the sandbox user is not root) nor there (masked); the other attacks fail too.
func TestSandboxHostExecutorHidesSecrets(t *testing.T) { asEachUser(t, hostExecutorHidesSecrets) }

func hostExecutorHidesSecrets(t *testing.T, e *e2ekit.Env) {
	host := snapshotHost(t)
	out := e.MustSlipway("build", "attacked-host", "--path", e2ekit.App("hello"), "--builder", attackBuilder(e, e2ekit.BuildImageName),
		"--sandbox", "host", "--env", "HOST_PORT="+loopbackService(t), "--env", "CANARY="+host.canary)
	got := report(out)
	t.Logf("sandbox report (--sandbox host):\n%s", reportLines(out))
	for k, v := range map[string]string{"shadow": "unreadable", "core_pattern": "denied", "CapEff": "0000000000000000", "loopback": "refused", "uid": "1000"} {
		if got[k] != v {
			t.Errorf("report %s = %q, want %q", k, got[k], v)
		}
	}
	if files := rootSetuidFiles(t, filepath.Join(e.Work, "slipway", "apps")); len(files) > 0 {
		t.Errorf("setuid/setgid files owned by host root: %v", files)
	}
	host.check(t)
}

// Finding 4: the CNB user's home in the build image's /etc/passwd is a path inside the
// image. A home climbing out with "..", or a symlink in the image to a host path, fails
// the build with an error naming the image and the value, and creates nothing on the host.
func TestSandboxPasswdHomeCannotEscape(t *testing.T) { asEachUser(t, passwdHomeCannotEscape) }

func passwdHomeCannotEscape(t *testing.T, e *e2ekit.Env) {
	victim := e.TempDir() // a host directory the image names (writable by a rootless slipway)
	cases := []struct {
		name, home, link, wantErr string
	}{
		{"dot-dot", "/../../../../../.." + victim + "/pwned", "", "is not a clean absolute path"},
		{"symlink", "/home/evil", victim + "/pwned-by-link", "must stay inside the image"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			image := "slipway-test/evil-home-" + tc.name + ":1"
			evilBuildImage(t, e.Store, image, tc.home, tc.link)
			e.Reown()
			out, code := e.Slipway("build", "evil-"+tc.name, "--path", e2ekit.App("hello"), "--builder", attackBuilder(e, image))
			if code == 0 || !strings.Contains(out, tc.wantErr) || !strings.Contains(out, image) {
				t.Errorf("exit %d; want an error naming %s and %q:\n%s", code, image, tc.wantErr, out)
			}
			if entries, _ := os.ReadDir(victim); len(entries) != 0 {
				t.Errorf("the build created %v on the host", entries)
			}
		})
	}
}

// evilBuildImage stores the test build image with /etc/passwd giving the CNB user (1000)
// home, and, when link is set, home a symlink to link.
func evilBuildImage(t *testing.T, store, name, home, link string) {
	t.Helper()
	s, err := imagestore.Open(store)
	if err != nil {
		t.Fatal(err)
	}
	base, err := s.Image(e2ekit.BuildImageName)
	if err != nil {
		t.Fatal(err)
	}
	passwd := filepath.Join(t.TempDir(), "passwd")
	e2ekit.WriteFile(t, passwd, "root:x:0:0:root:/root:/bin/bash\ncnb:x:1000:1000:CNB user:"+home+":/bin/bash\n")
	entries := []layer.Entry{{Type: layer.EntryFile, Path: "/etc/passwd", HostPath: passwd, Owner: layer.Owner{Mode: 0o644}}}
	if link != "" {
		entries = append(entries, layer.Entry{Type: layer.EntrySymlink, Path: home, Target: link, Owner: layer.Owner{Mode: 0o777}})
	}
	mt := types.OCILayer
	if m, _ := base.MediaType(); m == types.DockerManifestSchema2 {
		mt = types.DockerLayer
	}
	l, err := layer.FromEntries(context.Background(), entries, layer.Options{ScratchDir: t.TempDir(), MediaType: mt})
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(base, l)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(context.Background(), name, img); err != nil {
		t.Fatal(err)
	}
}
