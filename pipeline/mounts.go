package pipeline

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/slipway/slipway/binding"
	"github.com/slipway/slipway/cacerts"
	"github.com/slipway/slipway/sandbox"
)

// userMounts are what the user adds to the build sandbox (docs/platform-flags.md):
// --volume, --binding and extra CAs (--ca-certificates, `slipway config ca-certificates`).
type userMounts struct {
	volumes []binding.Volume
	certs   []cacerts.Cert
}

// readUserMounts parses and checks the flags before any work starts, so a bad path fails
// the build at once and names the flag and file.
func readUserMounts(o Options) (*userMounts, error) {
	m := &userMounts{}
	for _, s := range o.Volumes {
		v, err := binding.ParseVolume(s)
		if err != nil {
			return nil, err
		}
		m.volumes = append(m.volumes, v)
	}
	names := map[string]bool{}
	for _, s := range o.Bindings {
		b, err := binding.Parse(s)
		if err != nil {
			return nil, err
		}
		if names[b.Name] {
			return nil, fmt.Errorf("--binding %s: binding %s is given twice", s, b.Name)
		}
		names[b.Name] = true
		m.volumes = append(m.volumes, b.Volume())
	}
	seen := map[string]string{}
	for _, v := range m.volumes {
		if prev, ok := seen[v.Container]; ok {
			return nil, fmt.Errorf("%s and %s are both mounted at %s; use one", prev, v.Host, v.Container)
		}
		seen[v.Container] = v.Host
	}
	certs, err := cacerts.Read(o.CACertificates)
	if err != nil {
		return nil, fmt.Errorf("--ca-certificates: %w", err)
	}
	m.certs = certs
	return m, nil
}

// caBinding is the service binding under which the extra CAs are also offered to
// buildpacks that manage trust themselves (a JVM truststore, say): type ca-certificates,
// one PEM file per CA file, the convention of the Paketo ca-certificates buildpack.
const caBinding = "ca-certificates"

// userBinds returns the sandbox binds for the user's mounts, after the runner's own binds:
// each extra-CA bundle over the build image's system bundle, the ca-certificates binding,
// the volumes and bindings. It writes the platform env files that make tools trust the
// bundle and buildpacks find the bindings (<platform>/env, buildpack.md, Provided by the
// Platform), unless the user set them with --env or project.toml.
func userBinds(o Options, dirs *appDirs, rootfs string, binds []sandbox.Bind) ([]sandbox.Bind, error) {
	m, err := readUserMounts(o)
	if err != nil {
		return nil, err
	}
	// The host executor's root is the host itself: read its bundle, never write to it.
	_, onHost := o.Executor.(*sandbox.Host)
	base := rootfs
	if onHost {
		base = "/"
	}
	var out []sandbox.Bind
	env := map[string]string{}
	tr, err := cacerts.Assemble(base, m.certs, filepath.Join(dirs.scratch, "ca-certificates"), !onHost)
	if err != nil {
		return nil, err
	}
	volumes := m.volumes
	if tr != nil {
		for _, mt := range tr.Mounts {
			out = append(out, sandbox.Bind{Source: mt.Source, Dest: mt.Dest, ReadOnly: true})
		}
		for k, v := range tr.Env {
			env[k] = v
		}
		dest := binding.Root + "/" + caBinding
		if !mountedAt(volumes, dest) {
			dir, err := writeCABinding(filepath.Join(dirs.scratch, "ca-binding"), m.certs)
			if err != nil {
				return nil, err
			}
			volumes = append(volumes, binding.Volume{Host: dir, Container: dest})
		}
	}
	all := append(append([]sandbox.Bind{}, binds...), out...)
	for _, v := range volumes {
		fi, err := os.Stat(v.Host)
		if err != nil {
			return nil, fmt.Errorf("volume %s: %w", v.Host, err)
		}
		if err := mountPoint(all, rootfs, onHost, v.Container, fi.IsDir()); err != nil {
			return nil, err
		}
		b := sandbox.Bind{Source: v.Host, Dest: v.Container, ReadOnly: !v.ReadWrite}
		out = append(out, b)
		all = append(all, b)
		if v.Container == binding.Root || strings.HasPrefix(v.Container, binding.Root+"/") {
			// servicebinding.io: workloads find bindings through SERVICE_BINDING_ROOT.
			env["SERVICE_BINDING_ROOT"] = binding.Root
		}
	}
	for k, v := range env {
		p := filepath.Join(dirs.platform, "env", k)
		if _, err := os.Lstat(p); err == nil {
			continue // the user's --env or project.toml value wins
		}
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			return nil, fmt.Errorf("write platform env %s: %w", k, err)
		}
	}
	return out, nil
}

func mountedAt(vs []binding.Volume, dest string) bool {
	for _, v := range vs {
		if v.Container == dest {
			return true
		}
	}
	return false
}

func writeCABinding(dir string, certs []cacerts.Cert) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create ca-certificates binding: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "type"), []byte(caBinding), 0o644); err != nil {
		return "", fmt.Errorf("create ca-certificates binding: %w", err)
	}
	for i, c := range certs {
		name := fmt.Sprintf("%02d-%s.pem", i, strings.TrimSuffix(filepath.Base(c.Path), filepath.Ext(c.Path)))
		if err := os.WriteFile(filepath.Join(dir, name), c.PEM, 0o644); err != nil {
			return "", fmt.Errorf("create ca-certificates binding: %w", err)
		}
	}
	return dir, nil
}

// mountPoint makes sure dest exists for bwrap to bind onto: inside the host directory of
// the innermost bind that holds it (e.g. <platform>/bindings/NAME in the per-build
// platform dir), else in the unpacked build image rootfs (read-only in the sandbox, so it
// cannot grow one there). /tmp is a tmpfs, where bwrap makes its own. The host executor's
// root is the host: nothing is created there, a missing mount point is an error.
func mountPoint(binds []sandbox.Bind, rootfs string, onHost bool, dest string, isDir bool) error {
	base := ""
	rel := ""
	for i := len(binds) - 1; i >= 0; i-- {
		if r, ok := strings.CutPrefix(dest, strings.TrimSuffix(binds[i].Dest, "/")+"/"); ok {
			base, rel = binds[i].Source, r
			break
		}
	}
	switch {
	case base != "":
	case dest == "/tmp" || strings.HasPrefix(dest, "/tmp/"):
		return nil
	case onHost:
		if _, err := os.Stat(dest); err != nil {
			return fmt.Errorf("volume at %s: with --sandbox host the mount point must exist on this machine: %w", dest, err)
		}
		return nil
	default:
		base, rel = rootfs, strings.TrimPrefix(dest, "/")
	}
	root, err := os.OpenRoot(base)
	if err != nil {
		return fmt.Errorf("create mount point %s: %w", dest, err)
	}
	defer root.Close()
	dir := rel
	if !isDir {
		dir = path.Dir(rel)
	}
	if dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create mount point %s: %w", dest, err)
		}
	}
	if !isDir {
		f, err := root.OpenFile(rel, os.O_CREATE|os.O_RDONLY, 0o644)
		if err != nil {
			return fmt.Errorf("create mount point %s: %w", dest, err)
		}
		f.Close()
	}
	return nil
}
