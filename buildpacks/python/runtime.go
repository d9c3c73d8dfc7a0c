package python

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
	"github.com/slipway/slipway/debian"
)

// Source is where CPython comes from.
type Source interface {
	Name() string
	// Versions lists what the source offers.
	Versions(ctx context.Context) ([]Version, error)
	// Install puts CPython v into lay (a fresh contribution unless the source can reuse
	// it) and returns the interpreter's path and whether the layer was reused.
	Install(ctx context.Context, v Version, lay *sdk.Layer) (python string, reused bool, err error)
	// PipWheel is a pip wheel that came with the runtime, for bootstrapping venvs; rt is
	// the runtime's layer.
	PipWheel(ctx context.Context, rt *sdk.Layer, v Version) (string, error)
}

// debianSource installs the stack's python3.X packages through sdk.Apt, relocated into
// the layer: CPython finds its prefix from the interpreter's own location (it looks for
// lib/python3.X/os.py above bin/), so /layers/…/usr/bin/python3.11 uses
// /layers/…/usr/lib/python3.11.
type debianSource struct {
	apt *sdk.Apt
	idx *debian.Index
	log *sdk.Logger
	// lay is the cpython layer: its metadata keeps the versions the repositories offer
	// under their RepositoryKey, so a rebuild does not read the indexes to list them.
	lay *sdk.Layer
	// wheels is a build-only layer for python3-pip-whl: pip is needed to install the
	// dependencies, not by the app at launch.
	wheels   *sdk.Layer
	repoKey  string
	versions string
}

// launchSatisfied are dependencies of Debian's CPython left out of the layer: libnsl2 is
// used only by the nis module (deprecated by PEP 594, removed in 3.13, not built in the
// python:3.X-slim images), and brings libtirpc3 and Kerberos with it. Install removes the
// module, so "import nis" fails as it does where it was not built.
var launchSatisfied = []string{"libnsl2"}

// metadata is what the cpython layer keeps for the next build.
func (s *debianSource) metadata() map[string]any {
	return map[string]any{"apt-repositories": s.repoKey, "apt-versions": s.versions}
}

func (s *debianSource) Name() string { return "debian" }

func (s *debianSource) index(ctx context.Context) (*debian.Index, error) {
	if s.idx != nil {
		return s.idx, nil
	}
	idx, err := s.apt.Index(ctx)
	if err != nil {
		return nil, err
	}
	s.idx = idx
	return idx, nil
}

var debianUpstream = regexp.MustCompile(`^(?:\d+:)?(\d+\.\d+\.\d+)`)

func (s *debianSource) Versions(ctx context.Context) ([]Version, error) {
	key, err := s.apt.RepositoryKey(ctx)
	if err != nil {
		return nil, err
	}
	s.repoKey = key
	if s.lay != nil && s.lay.Metadata["apt-repositories"] == key {
		if list, ok := s.lay.Metadata["apt-versions"].(string); ok && list != "" {
			var out []Version
			for _, f := range strings.Fields(list) {
				if v, _, err := ParseVersion(f); err == nil {
					out = append(out, v)
				}
			}
			s.versions = list
			return out, nil
		}
	}
	idx, err := s.index(ctx)
	if err != nil {
		return nil, err
	}
	var out []Version
	for minor := 6; minor < 40; minor++ {
		p, ok := idx.Lookup(fmt.Sprintf("python3.%d", minor))
		if !ok {
			continue
		}
		m := debianUpstream.FindStringSubmatch(p.Version)
		if m == nil {
			continue
		}
		if v, _, err := ParseVersion(m[1]); err == nil {
			out = append(out, v)
		}
	}
	var list []string
	for _, v := range out {
		list = append(list, v.String())
	}
	s.versions = strings.Join(list, " ")
	return out, nil
}

func (s *debianSource) Install(ctx context.Context, v Version, lay *sdk.Layer) (string, bool, error) {
	pkgs := []string{"python3." + fmt.Sprint(v[1])}
	res, err := s.apt.Install(ctx, lay, sdk.AptRequest{Packages: pkgs, Launch: true, Build: true, Cache: true, Satisfied: launchSatisfied})
	if err != nil {
		return "", false, err
	}
	bin := filepath.Join(lay.Path, "usr", "bin")
	python := filepath.Join(bin, "python"+v.Minor())
	if res.Reused {
		return python, true, nil
	}
	// python3-minimal's python3 link, and the plain "python" users expect.
	for _, link := range []string{"python3", "python"} {
		if err := os.Symlink("python"+v.Minor(), filepath.Join(bin, link)); err != nil && !os.IsExist(err) {
			return "", false, fmt.Errorf("link %s: %w", link, err)
		}
	}
	nis, _ := filepath.Glob(filepath.Join(lay.Path, "usr", "lib", "python"+v.Minor(), "lib-dynload", "nis.*.so"))
	for _, f := range nis {
		if err := os.Remove(f); err != nil {
			return "", false, fmt.Errorf("remove the nis module: %w", err)
		}
	}
	// Debian compiles the standard library in its postinst (py3compile), which is not run:
	// the standard library stays without bytecode, as in the python:3.X-slim images
	// (about 11 MB less for 3.11). Imports compile it in memory, and the build's own
	// Python runs write none into the layer (PYTHONDONTWRITEBYTECODE); the app's and its
	// dependencies' bytecode is compiled at build.
	return python, false, nil
}

func libPath(layer string) string {
	m, _ := filepath.Glob(filepath.Join(layer, "usr/lib/*-linux-gnu"))
	return strings.Join(m, ":")
}

func (s *debianSource) PipWheel(ctx context.Context, _ *sdk.Layer, _ Version) (string, error) {
	if _, err := s.apt.Install(ctx, s.wheels, sdk.AptRequest{Packages: []string{"python3-pip-whl"}, Build: true, Cache: true}); err != nil {
		return "", err
	}
	m, _ := filepath.Glob(filepath.Join(s.wheels.Path, "usr/share/python-wheels/pip-*.whl"))
	if len(m) == 0 {
		return "", fmt.Errorf("python3-pip-whl left no pip wheel in %s/usr/share/python-wheels", s.wheels.Path)
	}
	return m[len(m)-1], nil
}

// standaloneSource installs python-build-standalone "install_only" builds
// (cpython-X.Y.Z+RELEASE-TRIPLE-install_only.tar.gz) from a mirror laid out like the
// project's releases: MIRROR/RELEASE/SHA256SUMS and MIRROR/RELEASE/FILE. Every download
// is checked against SHA256SUMS before it is extracted.
type standaloneSource struct {
	mirror, release, triple string
	fetcher                 *sdk.Fetcher
	sums                    map[string]string // file → sha256
	tmp                     string
}

func (s *standaloneSource) Name() string { return "standalone" }

func (s *standaloneSource) base() string {
	return strings.TrimSuffix(s.mirror, "/") + "/" + s.release
}

func (s *standaloneSource) file(v Version) string {
	return fmt.Sprintf("cpython-%s+%s-%s-install_only.tar.gz", v, s.release, s.triple)
}

func (s *standaloneSource) Versions(ctx context.Context) ([]Version, error) {
	if s.sums == nil {
		body, err := s.fetcher.Get(ctx, s.base()+"/SHA256SUMS", nil)
		if err != nil {
			return nil, fmt.Errorf("list python-build-standalone release %s: %w (set BP_CPYTHON_STANDALONE_MIRROR / BP_CPYTHON_STANDALONE_RELEASE)", s.release, err)
		}
		defer body.Close()
		s.sums = map[string]string{}
		sc := bufio.NewScanner(body)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 2 {
				s.sums[strings.TrimPrefix(f[1], "*")] = f[0]
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("read %s/SHA256SUMS: %w", s.base(), err)
		}
	}
	re := regexp.MustCompile(`^cpython-(\d+\.\d+\.\d+)\+` + regexp.QuoteMeta(s.release) + `-` + regexp.QuoteMeta(s.triple) + `-install_only\.tar\.gz$`)
	var out []Version
	for f := range s.sums {
		if m := re.FindStringSubmatch(f); m != nil {
			if v, _, err := ParseVersion(m[1]); err == nil {
				out = append(out, v)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return compare(out[i], out[j]) < 0 })
	return out, nil
}

func (s *standaloneSource) Install(ctx context.Context, v Version, lay *sdk.Layer) (string, bool, error) {
	file := s.file(v)
	sum, err := sdk.SHA256Hex(s.sums[file])
	if err != nil {
		return "", false, fmt.Errorf("%s/SHA256SUMS: %s: %w", s.base(), file, err)
	}
	python := filepath.Join(lay.Path, "bin", "python"+v.Minor())
	want := map[string]any{"source": "standalone", "file": file, "sha256": s.sums[file], "version": v.String()}
	if lay.MetadataMatches(want) && exists(python) {
		return python, true, nil
	}
	tgz, err := s.fetcher.Download(ctx, s.base()+"/"+file, sum, s.tmp)
	if err != nil {
		return "", false, err
	}
	defer os.Remove(tgz)
	if err := lay.Reset(); err != nil {
		return "", false, err
	}
	if err := sdk.ExtractTarGz(tgz, lay.Path, 1); err != nil {
		return "", false, err
	}
	if !exists(python) {
		return "", false, fmt.Errorf("%s has no python/bin/python%s; is it a python-build-standalone install_only build?", file, v.Minor())
	}
	if err := lay.SharedEnv().Prepend("PATH", filepath.Join(lay.Path, "bin"), ":"); err != nil {
		return "", false, err
	}
	if m, _ := filepath.Glob(filepath.Join(lay.Path, "lib", "*.so*")); len(m) > 0 {
		// Libraries shipped beside the interpreter (libpython, and in repackaged builds
		// its dependencies).
		if err := lay.SharedEnv().Prepend("LD_LIBRARY_PATH", filepath.Join(lay.Path, "lib"), ":"); err != nil {
			return "", false, err
		}
	}
	lay.Metadata = want
	return python, false, nil
}

func (s *standaloneSource) PipWheel(_ context.Context, lay *sdk.Layer, v Version) (string, error) {
	m, _ := filepath.Glob(filepath.Join(lay.Path, "lib", "python"+v.Minor(), "ensurepip", "_bundled", "pip-*.whl"))
	if len(m) == 0 {
		return "", fmt.Errorf("no pip wheel in %s/lib/python%s/ensurepip/_bundled", lay.Path, v.Minor())
	}
	return m[len(m)-1], nil
}

// tripleOf maps CNB target arch to python-build-standalone's target triple.
func tripleOf(arch string) (string, error) {
	switch arch {
	case "", "amd64":
		return "x86_64-unknown-linux-gnu", nil
	case "arm64":
		return "aarch64-unknown-linux-gnu", nil
	}
	return "", fmt.Errorf("no python-build-standalone builds for architecture %q", arch)
}
