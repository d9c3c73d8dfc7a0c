package stack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/slipway/slipway/debian"
	"github.com/slipway/slipway/logging"
	"github.com/slipway/slipway/platform"
)

// BuildOptions are the side inputs of Build.
type BuildOptions struct {
	// CacheDir holds downloaded .debs and indexes by SHA256
	// ($XDG_CACHE_HOME/slipway/debs by convention).
	CacheDir string
	// TempDir holds the root filesystems while they are assembled; empty means
	// os.TempDir().
	TempDir string
	Log     *logging.Logger
	// HTTP is the client for the repositories; nil means http.DefaultClient.
	HTTP *http.Client
	// Now is the clock for signature expiry and Valid-Until; nil means time.Now.
	Now func() time.Time
	// Created is the images' creation time; zero means the reproducible 1980 epoch.
	Created time.Time
}

// BuiltImage is one image of a stack.
type BuiltImage struct {
	Name     string
	Image    v1.Image
	Packages []*debian.Package // installed, in install order
	// Unconfigured lists the packages whose maintainer scripts were not run (slipway
	// never runs them); see Build for the effects it reproduces.
	Unconfigured []string
	// Skipped lists archive entries left out (device nodes, fifos) as "package: path".
	Skipped []string
}

// Stack is the result of Build.
type Stack struct {
	Build, Run BuiltImage
}

// Build makes the build and run images of def from Debian packages, without dpkg, apt
// or a container runtime: it verifies each source's InRelease with its keyring, reads
// the Packages indexes, resolves the packages of each image, downloads the .debs
// (checked against the signed SHA256s, cached), extracts them into a fresh root
// filesystem with merged /usr, writes /var/lib/dpkg/status (so scanners see the
// packages), /etc/passwd and /etc/group with the CNB user, and makes a single-layer
// image with the CNB labels, User and env (platform.md, Build Image). The same package versions
// give the same image digests.
//
// Maintainer scripts are not run. Build reproduces the few effects base images need:
// base-passwd's /etc/passwd and /etc/group, ca-certificates' bundle
// /etc/ssl/certs/ca-certificates.crt, tzdata's /etc/localtime (UTC), the alternatives
// awk, nawk, cc, c++ and which, and libc-bin's ld.so.cache (when the target runs here).
func Build(ctx context.Context, def *Definition, o BuildOptions) (*Stack, error) {
	client := &debian.Client{HTTP: o.HTTP, CacheDir: o.CacheDir, Log: o.Log, Now: o.Now}
	idx := debian.NewIndex()
	for _, s := range def.Sources {
		src := debian.Source{URL: s.URL, Suite: s.Suite, Components: s.Components, Architecture: def.Architecture, Keyring: def.KeyringPath(s)}
		var err error
		if idx, err = client.Index(ctx, src, idx); err != nil {
			return nil, fmt.Errorf("read source %s %s (stack config %s): %w", s.URL, s.Suite, def.File, err)
		}
	}
	o.Log.Infof("Indexed %d packages from %d sources", idx.Len(), len(def.Sources))
	buildPkgs, err := idx.Resolve(def.Build.Packages)
	if err != nil {
		return nil, fmt.Errorf("resolve [build] packages of %s: %w", def.File, err)
	}
	runPkgs, err := idx.Resolve(def.Run.Packages)
	if err != nil {
		return nil, fmt.Errorf("resolve [run] packages of %s: %w", def.File, err)
	}
	all := append(append([]*debian.Package(nil), buildPkgs...), runPkgs...)
	all = slices.CompactFunc(sortedBySHA(all), func(a, b *debian.Package) bool { return a.SHA256 == b.SHA256 })
	paths, err := client.Download(ctx, all)
	if err != nil {
		return nil, err
	}
	files := map[string]string{}
	for i, p := range all {
		files[p.SHA256] = paths[i]
	}

	res := &Stack{
		Build: BuiltImage{Name: def.Build.Image, Packages: buildPkgs},
		Run:   BuiltImage{Name: def.Run.Image, Packages: runPkgs},
	}
	oci := goArch[def.Architecture]
	labels := map[string]string{}
	if def.Homepage != "" {
		labels[platform.LabelHomepage] = def.Homepage
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, job := range []struct {
		out  *BuiltImage
		conf ImageConfig
		cfg  Config
	}{
		{&res.Build, def.Build, Config{UID: def.User.BuildUID, GID: def.User.BuildGID, Build: true}},
		{&res.Run, def.Run, Config{UID: def.User.RunUID, GID: def.User.RunGID}},
	} {
		cfg := job.cfg
		cfg.Env = job.conf.Env
		cfg.Maintainer = def.Maintainer
		cfg.StackID = def.ID
		cfg.Labels = labels
		cfg.OS, cfg.Architecture, cfg.Variant = "linux", oci[0], oci[1]
		cfg.Created = o.Created
		cfg.TempDir = o.TempDir
		var record []*debian.Package
		if cfg.Build {
			record = runPkgs
		}
		g.Go(func() error {
			return buildImage(gctx, job.out, files, def, cfg, o, record)
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return res, nil
}

func sortedBySHA(p []*debian.Package) []*debian.Package {
	sort.SliceStable(p, func(i, j int) bool { return p[i].SHA256 < p[j].SHA256 })
	return p
}

func buildImage(ctx context.Context, out *BuiltImage, files map[string]string, def *Definition, cfg Config, o BuildOptions, runPkgs []*debian.Package) error {
	dir, err := os.MkdirTemp(o.TempDir, "slipway-stack-rootfs-")
	if err != nil {
		return fmt.Errorf("build image %s: %w", out.Name, err)
	}
	defer os.RemoveAll(dir)
	start := time.Now()
	if err := assemble(ctx, dir, out, files, def, cfg, runPkgs); err != nil {
		return fmt.Errorf("build image %s: %w", out.Name, err)
	}
	img, err := FromRootfs(ctx, dir, cfg)
	if err != nil {
		return fmt.Errorf("build image %s: %w", out.Name, err)
	}
	out.Image = img
	o.Log.Infof("Assembled %s: %d packages in %s", out.Name, len(out.Packages), time.Since(start).Round(time.Millisecond))
	if len(out.Unconfigured) > 0 {
		o.Log.Infof("  maintainer scripts not run for %d packages of %s: %s", len(out.Unconfigured), out.Name, strings.Join(out.Unconfigured, ", "))
	}
	for _, s := range out.Skipped {
		o.Log.Debugf("  skipped %s", s)
	}
	return nil
}

// assemble installs the packages into the empty rootfs dir. The build image also gets
// the stack's apt record (writeAptRecord) of the run image's packages runPkgs.
func assemble(ctx context.Context, dir string, out *BuiltImage, files map[string]string, def *Definition, cfg Config, runPkgs []*debian.Package) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	if err := mergedUsr(root, def.Architecture); err != nil {
		return fmt.Errorf("create merged /usr layout: %w", err)
	}
	chown := os.Geteuid() == 0
	var debs []*debian.Deb
	for _, p := range out.Packages {
		deb, err := debian.InstallFile(ctx, files[p.SHA256], p.SHA256, root, debian.ExtractOptions{Chown: chown})
		if err != nil {
			return fmt.Errorf("install %s %s: %w", p.Name, p.Version, err)
		}
		debs = append(debs, deb)
		if hasConfigScripts(deb.Scripts) {
			out.Unconfigured = append(out.Unconfigured, p.Name)
		}
		for _, s := range deb.Skipped {
			out.Skipped = append(out.Skipped, p.Name+": "+s)
		}
	}
	if err := writeDpkgDatabase(root, debs, def.Architecture); err != nil {
		return fmt.Errorf("write /var/lib/dpkg: %w", err)
	}
	if cfg.Build {
		if err := writeAptRecord(root, def, runPkgs); err != nil {
			return fmt.Errorf("write %s: %w", debian.StackRecordDir, err)
		}
		names := make([]string, 0, len(out.Packages))
		for _, p := range out.Packages {
			names = append(names, p.Name)
		}
		if err := writeAptSources(root, names); err != nil {
			return err
		}
	}
	for i, c := range def.CACertificates {
		data, err := os.ReadFile(def.path(c))
		if err != nil {
			return fmt.Errorf("ca-certificates: %w", err)
		}
		if err := root.MkdirAll("usr/local/share/ca-certificates", 0o755); err != nil {
			return err
		}
		name := fmt.Sprintf("usr/local/share/ca-certificates/slipway-%02d-%s.crt", i, strings.TrimSuffix(filepath.Base(c), filepath.Ext(c)))
		if err := root.WriteFile(name, data, 0o644); err != nil {
			return fmt.Errorf("write /%s: %w", name, err)
		}
	}
	if err := configure(ctx, root, dir, def.Architecture); err != nil {
		return err
	}
	if err := AddUser(dir, def.User.Name, cfg.UID, cfg.GID); err != nil {
		return err
	}
	return nil
}

func hasConfigScripts(s []string) bool {
	for _, n := range s {
		if n == "preinst" || n == "postinst" || n == "config" {
			return true
		}
	}
	return false
}

// mergedUsr makes /bin, /sbin, /lib (and /lib64 on amd64) symlinks into /usr before
// anything is extracted, as debootstrap does for bookworm: packages that still ship
// /bin paths then land in /usr/bin.
func mergedUsr(root *os.Root, arch string) error {
	dirs := []string{"bin", "sbin", "lib"}
	if arch == "amd64" {
		dirs = append(dirs, "lib64")
	}
	for _, d := range dirs {
		if err := root.MkdirAll("usr/"+d, 0o755); err != nil {
			return err
		}
		if err := root.Symlink("usr/"+d, d); err != nil {
			return err
		}
	}
	for _, d := range []struct {
		name string
		mode fs.FileMode
	}{{"tmp", 0o777 | fs.ModeSticky}, {"var/tmp", 0o777 | fs.ModeSticky}, {"root", 0o700}, {"proc", 0o555}, {"sys", 0o555}, {"dev", 0o755}, {"etc", 0o755}, {"home", 0o755}, {"run", 0o755}} {
		if err := root.MkdirAll(d.name, 0o755); err != nil {
			return err
		}
		if err := root.Chmod(d.name, d.mode); err != nil {
			return err
		}
	}
	return nil
}

// writeDpkgDatabase writes /var/lib/dpkg/status and info/<pkg>.list (and .md5sums,
// .conffiles) so vulnerability scanners (Trivy, Grype, syft) and dpkg itself see what is
// installed. Entries are sorted by name so the file is reproducible.
func writeDpkgDatabase(root *os.Root, debs []*debian.Deb, arch string) error {
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers", "var/lib/dpkg/alternatives"} {
		if err := root.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	sorted := append([]*debian.Deb(nil), debs...)
	sort.SliceStable(sorted, func(i, j int) bool {
		return sorted[i].Control.Get("Package") < sorted[j].Control.Get("Package")
	})
	var status bytes.Buffer
	for _, d := range sorted {
		name := d.Control.Get("Package")
		// dpkg's status has Status right after Package. Packages are marked installed
		// although their scripts did not run: scanners skip packages in any other state.
		entry := debian.Paragraph{{Name: "Package", Value: name}, {Name: "Status", Value: "install ok installed"}}
		for _, f := range d.Control {
			if !strings.EqualFold(f.Name, "Package") && !strings.EqualFold(f.Name, "Status") {
				entry = append(entry, f)
			}
		}
		if _, err := entry.WriteTo(&status); err != nil {
			return err
		}
		// Multi-Arch: same packages are co-installable, so dpkg qualifies their files.
		base := name
		if d.Control.Get("Multi-Arch") == "same" {
			base = name + ":" + d.Control.Get("Architecture")
		}
		list := strings.Join(d.Files, "\n") + "\n"
		if err := root.WriteFile("var/lib/dpkg/info/"+base+".list", []byte(list), 0o644); err != nil {
			return err
		}
		if len(d.MD5Sums) > 0 {
			if err := root.WriteFile("var/lib/dpkg/info/"+base+".md5sums", d.MD5Sums, 0o644); err != nil {
				return err
			}
		}
		if len(d.Conffiles) > 0 {
			if err := root.WriteFile("var/lib/dpkg/info/"+base+".conffiles", d.Conffiles, 0o644); err != nil {
				return err
			}
		}
	}
	if err := root.WriteFile("var/lib/dpkg/status", status.Bytes(), 0o644); err != nil {
		return err
	}
	if err := root.WriteFile("var/lib/dpkg/available", nil, 0o644); err != nil {
		return err
	}
	return root.WriteFile("var/lib/dpkg/arch", []byte(arch+"\n"), 0o644)
}

// alternatives are the update-alternatives links of the packages base images carry, in
// Debian's default priority order: link → candidates (first present wins).
var alternatives = []struct {
	link    string
	targets []string
}{
	{"usr/bin/awk", []string{"/usr/bin/mawk", "/usr/bin/gawk"}},
	{"usr/bin/nawk", []string{"/usr/bin/mawk", "/usr/bin/gawk"}},
	{"usr/bin/cc", []string{"/usr/bin/gcc"}},
	{"usr/bin/c++", []string{"/usr/bin/g++"}},
	{"usr/bin/which", []string{"/usr/bin/which.debianutils"}},
	{"usr/bin/pager", []string{"/usr/bin/less", "/usr/bin/more"}},
}

// configure reproduces what the skipped maintainer scripts of a base image's packages
// would have done and that images rely on.
func configure(ctx context.Context, root *os.Root, dir, arch string) error {
	// base-passwd's preinst copies its masters when /etc/passwd does not exist yet.
	for _, db := range []struct{ file, master, fallback string }{
		{"etc/passwd", "usr/share/base-passwd/passwd.master", "root:x:0:0:root:/root:/bin/sh\n"},
		{"etc/group", "usr/share/base-passwd/group.master", "root:x:0:\n"},
	} {
		if _, err := root.Lstat(db.file); err == nil {
			continue
		}
		data, err := root.ReadFile(db.master)
		if err != nil {
			data = []byte(db.fallback)
		}
		if err := root.WriteFile(db.file, data, 0o644); err != nil {
			return fmt.Errorf("write /%s: %w", db.file, err)
		}
	}
	// ca-certificates' postinst (update-ca-certificates) concatenates the enabled
	// certificates; all of Mozilla's are enabled by default.
	// Local certificates (/usr/local/share/ca-certificates, stack.toml ca-certificates) follow.
	certs, _ := fs.Glob(root.FS(), "usr/share/ca-certificates/*/*.crt")
	sort.Strings(certs)
	local, _ := fs.Glob(root.FS(), "usr/local/share/ca-certificates/*.crt")
	sort.Strings(local)
	certs = append(certs, local...)
	if len(certs) > 0 {
		var bundle bytes.Buffer
		for _, c := range certs {
			data, err := root.ReadFile(c)
			if err != nil {
				return fmt.Errorf("read /%s: %w", c, err)
			}
			bundle.Write(bytes.TrimRight(data, "\n"))
			bundle.WriteString("\n")
		}
		if err := root.MkdirAll("etc/ssl/certs", 0o755); err != nil {
			return err
		}
		if err := root.WriteFile("etc/ssl/certs/ca-certificates.crt", bundle.Bytes(), 0o644); err != nil {
			return fmt.Errorf("write /etc/ssl/certs/ca-certificates.crt: %w", err)
		}
	}
	// tzdata's postinst links /etc/localtime; containers conventionally run in UTC.
	if _, err := root.Lstat("usr/share/zoneinfo/Etc/UTC"); err == nil {
		root.Remove("etc/localtime")
		if err := root.Symlink("/usr/share/zoneinfo/Etc/UTC", "etc/localtime"); err != nil {
			return fmt.Errorf("link /etc/localtime: %w", err)
		}
		if err := root.WriteFile("etc/timezone", []byte("Etc/UTC\n"), 0o644); err != nil {
			return fmt.Errorf("write /etc/timezone: %w", err)
		}
	}
	for _, a := range alternatives {
		if _, err := root.Lstat(a.link); err == nil {
			continue
		}
		for _, t := range a.targets {
			if _, err := root.Lstat(strings.TrimPrefix(t, "/")); err != nil {
				continue
			}
			alt := "etc/alternatives/" + path.Base(a.link)
			if err := root.MkdirAll("etc/alternatives", 0o755); err != nil {
				return err
			}
			if err := root.Symlink(t, alt); err != nil && !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("link /%s: %w", alt, err)
			}
			if err := root.Symlink("/"+alt, a.link); err != nil {
				return fmt.Errorf("link /%s: %w", a.link, err)
			}
			break
		}
	}
	return ldconfig(ctx, root, dir, arch)
}

// ldconfig runs the image's own (static) ldconfig to write /etc/ld.so.cache, which
// libc-bin's trigger would have done; libraries outside the default paths (listed in
// /etc/ld.so.conf.d) need it. It only runs when the image's architecture is the host's
// and we are root (ldconfig -r chroots). Its aux-cache records inode numbers and
// times, so it is removed to keep the image reproducible.
func ldconfig(ctx context.Context, root *os.Root, dir, arch string) error {
	if _, err := root.Lstat("usr/sbin/ldconfig"); err != nil {
		return nil
	}
	if goArch[arch][0] != runtime.GOARCH || os.Geteuid() != 0 {
		return nil
	}
	cmd := exec.CommandContext(ctx, filepath.Join(dir, "usr/sbin/ldconfig"), "-X", "-r", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("run ldconfig in %s: %w\n%s", dir, err, out)
	}
	root.RemoveAll("var/cache/ldconfig/aux-cache")
	return nil
}
