package sdk

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/slipway/slipway/debian"
	"github.com/slipway/slipway/logging"
)

// Apt installs Debian packages, with their dependencies, into a layer: the verified path
// of the debian package (signed InRelease, SHA256 per .deb), without dpkg, apt or root.
// What the run image (for a launch layer) or the build image (for a build layer) already
// has is skipped; the rest is extracted under the layer as if the layer were "/" and the
// environment a relocated install needs is written into the layer's env directories.
// See buildpacks/apt/README.md.
type Apt struct {
	// Sources are the repositories; nil means the stack's own (StackSources), so packages
	// match the run image's distribution.
	Sources []debian.Source
	// Root is the build image's root directory, where the stack record and the build
	// image's dpkg status are read; "" means "/".
	Root string
	// Arch is the dpkg architecture for sources without one; "" means the stack's.
	Arch string
	// Cache is a cache layer for .debs and indexes (kept by SHA256); nil keeps them in
	// a temporary directory for this build only.
	Cache *Layer
	HTTP  *http.Client
	Log   *Logger

	// indexes keeps the indexes read during this build by repository state, and states
	// the verified releases by sources, so a buildpack that lists versions and then
	// installs fetches and reads them once.
	indexes map[string]*debian.Index
	states  map[string]*aptState
}

// AptRequest is one Install call.
type AptRequest struct {
	// Packages are package names, optionally with a version constraint ("jq",
	// "libpq5 (>= 15)").
	Packages []string
	// Launch and Build say which images the layer serves; each skips what that image
	// has. A layer for both holds what either lacks.
	Launch, Build bool
	// Cache keeps the layer in the build cache as well (buildpack.md, Layer Content Metadata (TOML) cache=true).
	Cache bool
	// Extra are repositories searched after Sources (e.g. from an Aptfile's :repo:
	// lines); each needs its keyring.
	Extra []debian.Source
	// Satisfied are packages taken as installed, in the index's version: another layer
	// of the buildpack holds them (the interpreter a tool's layer runs on), or nothing
	// but maintainer scripts, which are not run, uses them (debconf, ucf). They satisfy
	// dependencies, through their Provides too, and are not put into the layer.
	Satisfied []string
}

// AptResult says what Install did.
type AptResult struct {
	// Packages are the packages in the layer, in install order.
	Packages []*debian.Package
	// Skipped are requested names the target images already have.
	Skipped []string
	// Reused is true when the layer was left untouched: same packages and versions.
	Reused bool
}

// AptNotFoundError says a requested package is in none of the repositories searched.
type AptNotFoundError struct {
	Package  string
	Chain    string // how it was reached, for a dependency
	Reason   string
	Searched []debian.Source
}

func (e *AptNotFoundError) Error() string {
	var s []string
	for _, src := range e.Searched {
		s = append(s, fmt.Sprintf("%s %s %s", src.URL, src.Suite, strings.Join(src.Components, " ")))
	}
	what := fmt.Sprintf("package %q", e.Package)
	if e.Chain != "" {
		what += " (" + e.Chain + ")"
	}
	return fmt.Sprintf("%s cannot be installed: %s; repositories searched: %s", what, e.Reason, strings.Join(s, "; "))
}

func (a *Apt) root(p string) string {
	if a.Root == "" {
		return p
	}
	return filepath.Join(a.Root, p)
}

// StackSources reads the apt sources the stack recorded in the build image
// (debian.StackSourcesFile); their keyrings are the copies recorded beside them.
func (a *Apt) StackSources() ([]debian.Source, error) {
	file := a.root(debian.StackSourcesFile)
	data, err := os.ReadFile(file)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("the build image has no record of its apt sources (%s): it was not made by `slipway stack build`, or by an older slipway; rebuild the stack, or give the repositories explicitly", debian.StackSourcesFile)
		}
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	srcs, err := debian.ParseSourcesList(data, debian.StackSourcesFile, "", a.Arch)
	if err != nil {
		return nil, err
	}
	for i := range srcs {
		srcs[i].Keyring = a.root(srcs[i].Keyring)
	}
	return srcs, nil
}

// installedIn reads a dpkg status file; a missing file gives nil (nothing known to be
// installed, so nothing is skipped) and ok=false.
func (a *Apt) installedIn(file string) ([]*debian.Package, []byte, bool, error) {
	data, err := os.ReadFile(a.root(file))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, false, nil
	}
	if err != nil {
		return nil, nil, false, fmt.Errorf("read %s: %w", file, err)
	}
	pkgs, err := debian.ReadStatus(bytes.NewReader(data), file)
	return pkgs, data, true, err
}

// Install puts req.Packages and the dependencies the target images lack into lay and
// writes <lay>.toml. While the resolved package set (names, versions, SHA256s) is the
// one the layer already holds, the layer is left untouched and the indexes are not even
// read again when the repositories' signed releases did not change.
func (a *Apt) Install(ctx context.Context, lay *Layer, req AptRequest) (*AptResult, error) {
	log := a.Log
	if log == nil {
		log = NewLogger(nil)
	}
	if len(req.Packages) == 0 {
		return nil, fmt.Errorf("install into layer %s: no packages requested", lay.Name)
	}
	if !req.Launch && !req.Build {
		return nil, fmt.Errorf("install into layer %s: the layer must serve launch, build or both", lay.Name)
	}
	st, err := a.open(ctx, req.Extra)
	if err != nil {
		return nil, err
	}
	defer st.cleanup()
	sources, client := st.sources, st.client

	var runInstalled, buildInstalled []*debian.Package
	key := sha256.New()
	fmt.Fprintf(key, "packages %q launch %v build %v\n", req.Packages, req.Launch, req.Build)
	if len(req.Satisfied) > 0 {
		fmt.Fprintf(key, "satisfied %q\n", req.Satisfied)
	}
	if req.Launch {
		pkgs, data, ok, err := a.installedIn(debian.StackRunStatus)
		if err != nil {
			return nil, err
		}
		if !ok {
			log.Warnf("the build image does not record the run image's packages (%s); installing every dependency", debian.StackRunStatus)
		}
		runInstalled = pkgs
		key.Write(data)
	}
	if req.Build {
		pkgs, data, _, err := a.installedIn(debian.DpkgStatusFile)
		if err != nil {
			return nil, err
		}
		buildInstalled = pkgs
		key.Write(data)
	}
	key.Write([]byte(st.key))
	resolutionKey := hex.EncodeToString(key.Sum(nil))

	types := LayerTypes{Launch: req.Launch, Build: req.Build, Cache: req.Cache}
	if lay.Exists() && lay.Metadata["resolution"] == resolutionKey {
		lay.Types = types
		if err := lay.Write(); err != nil {
			return nil, err
		}
		return &AptResult{Reused: true}, nil
	}

	idx, err := a.index(ctx, st)
	if err != nil {
		return nil, err
	}
	var satisfied []*debian.Package
	for _, n := range req.Satisfied {
		if p, ok := idx.Lookup(n); ok {
			satisfied = append(satisfied, p)
		}
	}
	var pkgs []*debian.Package
	seen := map[string]bool{}
	res := &AptResult{}
	for _, target := range []struct {
		on        bool
		installed []*debian.Package
	}{{req.Launch, runInstalled}, {req.Build, buildInstalled}} {
		if !target.on {
			continue
		}
		got, err := idx.ResolveOnto(req.Packages, append(append([]*debian.Package(nil), target.installed...), satisfied...))
		if err != nil {
			var ue *debian.UnsatisfiableError
			if errors.As(err, &ue) {
				nf := &AptNotFoundError{Package: strings.Fields(ue.Missing)[0], Reason: ue.Reason, Searched: sources}
				if len(ue.Chain) > 0 {
					nf.Package = ue.Chain[0]
					nf.Chain = "needs " + strings.Join(append(ue.Chain[1:], ue.Missing), " → ")
				}
				return nil, nf
			}
			return nil, err
		}
		for _, p := range got {
			if !seen[p.Name] {
				seen[p.Name] = true
				pkgs = append(pkgs, p)
			}
		}
	}
	for _, name := range req.Packages {
		n := strings.Fields(name)[0]
		if !seen[n] {
			res.Skipped = append(res.Skipped, n)
		}
	}
	res.Packages = pkgs
	var list []string
	for _, p := range pkgs {
		list = append(list, p.Name+"="+p.Version+"@"+p.SHA256)
	}
	sort.Strings(list)
	setKey := strings.Join(list, " ")
	if lay.Exists() && lay.Metadata["packages"] == setKey {
		res.Reused = true
	} else {
		if err := a.extract(ctx, client, lay, pkgs); err != nil {
			return nil, err
		}
	}
	lay.Metadata = map[string]any{"packages": setKey, "resolution": resolutionKey}
	lay.Types = types
	if err := lay.Write(); err != nil {
		return nil, err
	}
	return res, nil
}

// aptState is the verified state of the repositories for one call.
type aptState struct {
	sources  []debian.Source
	releases []*debian.Release
	client   *debian.Client
	key      string // the sources and the hashes of their indexes
	cleanup  func()
}

// open resolves the sources (the stack's unless set, then extra) and fetches and
// verifies their signed releases.
func (a *Apt) open(ctx context.Context, extra []debian.Source) (*aptState, error) {
	log := a.Log
	if log == nil {
		log = NewLogger(nil)
	}
	if a.Arch == "" {
		a.Arch = dpkgArch(a.root("/var/lib/dpkg/arch"))
	}
	sources := a.Sources
	if sources == nil {
		var err error
		if sources, err = a.StackSources(); err != nil {
			return nil, err
		}
	}
	sources = append(append([]debian.Source(nil), sources...), extra...)
	var srcKey strings.Builder
	for i := range sources {
		if sources[i].Architecture == "" {
			sources[i].Architecture = a.Arch
		}
		srcKey.WriteString(sources[i].String() + "\n")
	}
	if st, ok := a.states[srcKey.String()]; ok {
		return st, nil
	}
	cacheDir, cleanup, err := a.cacheDir()
	if err != nil {
		return nil, err
	}
	st := &aptState{sources: sources, cleanup: cleanup,
		client: &debian.Client{HTTP: a.HTTP, CacheDir: cacheDir, Log: logging.New(indent{log.Writer()}, logging.Info, false)}}
	var key strings.Builder
	for _, src := range sources {
		rel, err := st.client.Release(ctx, src)
		if err != nil {
			cleanup()
			return nil, fmt.Errorf("read repository %s: %w", src, err)
		}
		st.releases = append(st.releases, rel)
		_, hashes, _, err := debian.PackagesFiles(src, rel)
		if err != nil {
			cleanup()
			return nil, err
		}
		fmt.Fprintf(&key, "%s %v\n", src, hashes)
	}
	st.key = key.String()
	if a.Cache != nil { // a temporary cache dir is removed after each call
		if a.states == nil {
			a.states = map[string]*aptState{}
		}
		a.states[srcKey.String()] = st
	}
	return st, nil
}

// index reads the Packages indexes of st, once per build.
func (a *Apt) index(ctx context.Context, st *aptState) (*debian.Index, error) {
	if idx, ok := a.indexes[st.key]; ok {
		return idx, nil
	}
	idx := debian.NewIndex()
	var err error
	for i, src := range st.sources {
		if idx, err = st.client.IndexRelease(ctx, src, st.releases[i], idx); err != nil {
			return nil, fmt.Errorf("read repository %s: %w", src, err)
		}
	}
	if a.indexes == nil {
		a.indexes = map[string]*debian.Index{}
	}
	a.indexes[st.key] = idx
	return idx, nil
}

// RepositoryKey identifies the state of the sources (the stack's unless Sources is set):
// it changes when any signed release lists a different Packages index. A buildpack can
// keep what it derived from an index (e.g. the versions offered) under this key and skip
// reading the index while it is unchanged.
func (a *Apt) RepositoryKey(ctx context.Context) (string, error) {
	st, err := a.open(ctx, nil)
	if err != nil {
		return "", err
	}
	defer st.cleanup()
	sum := sha256.Sum256([]byte(st.key))
	return hex.EncodeToString(sum[:]), nil
}

// Index returns the packages of the sources (the stack's unless Sources is set), for a
// buildpack that chooses among versions before it installs.
func (a *Apt) Index(ctx context.Context) (*debian.Index, error) {
	st, err := a.open(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer st.cleanup()
	return a.index(ctx, st)
}

func (a *Apt) cacheDir() (string, func(), error) {
	if a.Cache != nil {
		dir := filepath.Join(a.Cache.Path, "apt")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", nil, fmt.Errorf("create apt cache: %w", err)
		}
		return dir, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "slipway-apt-")
	if err != nil {
		return "", nil, fmt.Errorf("create apt cache: %w", err)
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

// extract downloads pkgs (verified) and extracts them into a fresh layer, then makes the
// install work from the layer's path.
func (a *Apt) extract(ctx context.Context, client *debian.Client, lay *Layer, pkgs []*debian.Package) error {
	paths, err := client.Download(ctx, pkgs)
	if err != nil {
		return err
	}
	if err := lay.Reset(); err != nil {
		return err
	}
	root, err := os.OpenRoot(lay.Path)
	if err != nil {
		return fmt.Errorf("open layer %s: %w", lay.Path, err)
	}
	defer root.Close()
	// The layer gets the merged-/usr links of the stack, so /bin/x and /usr/bin/x of
	// different packages meet in one place and one PATH entry covers both.
	for _, d := range []string{"bin", "sbin", "lib", "lib64"} {
		if err := root.MkdirAll("usr/"+d, 0o755); err != nil {
			return err
		}
		if err := root.Symlink("usr/"+d, d); err != nil {
			return err
		}
	}
	var comps []Component
	for i, p := range pkgs {
		if _, err := debian.InstallFile(ctx, paths[i], p.SHA256, root, debian.ExtractOptions{}); err != nil {
			return fmt.Errorf("install %s %s into layer %s: %w", p.Name, p.Version, lay.Name, err)
		}
		comps = append(comps, Component{Name: p.Name, Version: p.Version,
			PURL: fmt.Sprintf("pkg:deb/debian/%s@%s?arch=%s", p.Name, p.Version, p.Architecture), Hashes: map[string]string{"SHA-256": p.SHA256}})
	}
	if err := relocate(lay.Path); err != nil {
		return fmt.Errorf("relocate packages in layer %s: %w", lay.Name, err)
	}
	if err := writeAptEnv(lay); err != nil {
		return err
	}
	return lay.WriteCycloneDX(comps)
}

// relocate makes the extracted packages work from the layer: absolute symlinks to files
// the layer has point into the layer, and pkg-config files get the layer's prefix.
func relocate(dir string) error {
	return filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.Type()&os.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil || !filepath.IsAbs(target) {
				return err
			}
			if _, err := os.Lstat(filepath.Join(dir, target)); err != nil {
				return nil // into the image (e.g. /etc/alternatives): left as is
			}
			if err := os.Remove(p); err != nil {
				return err
			}
			return os.Symlink(filepath.Join(dir, target), p)
		case d.Type().IsRegular() && strings.HasSuffix(p, ".pc") && strings.Contains(filepath.ToSlash(p), "/pkgconfig/"):
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			var out []string
			for _, line := range strings.Split(string(b), "\n") {
				if k, v, ok := strings.Cut(line, "="); ok && strings.HasPrefix(v, "/usr") && !strings.ContainsAny(k, " :") {
					line = k + "=" + dir + v
				}
				out = append(out, line)
			}
			return os.WriteFile(p, []byte(strings.Join(out, "\n")), 0o644)
		}
		return nil
	})
}

// writeAptEnv points the search paths at what the layer holds: PATH and
// LD_LIBRARY_PATH for build and launch (layer env), the compiler and pkg-config paths
// for build only, PYTHONPATH for Debian's python3-* modules.
func writeAptEnv(lay *Layer) error {
	has := func(rel string) (string, bool) {
		p := filepath.Join(lay.Path, rel)
		fi, err := os.Stat(p)
		return p, err == nil && fi.IsDir()
	}
	var bins, libs, incs, pcs, pys []string
	for _, b := range []string{"usr/local/bin", "usr/bin", "usr/sbin"} {
		if p, ok := has(b); ok && !emptyDir(p) {
			bins = append(bins, p)
		}
	}
	multiarch, _ := filepath.Glob(filepath.Join(lay.Path, "usr/lib/*-linux-gnu*"))
	for _, m := range multiarch {
		if fi, err := os.Stat(m); err == nil && fi.IsDir() {
			libs = append(libs, m)
			if p, ok := has(filepath.Join("usr/lib", filepath.Base(m), "pkgconfig")); ok {
				pcs = append(pcs, p)
			}
			if p, ok := has(filepath.Join("usr/include", filepath.Base(m))); ok {
				incs = append(incs, p)
			}
		}
	}
	if p, ok := has("usr/lib"); ok && hasSharedLibs(p) {
		libs = append(libs, p)
	}
	if p, ok := has("usr/include"); ok {
		incs = append(incs, p)
	}
	for _, d := range []string{"usr/lib/pkgconfig", "usr/share/pkgconfig"} {
		if p, ok := has(d); ok {
			pcs = append(pcs, p)
		}
	}
	if p, ok := has("usr/lib/python3/dist-packages"); ok {
		pys = append(pys, p)
	}
	sep := string(os.PathListSeparator)
	for _, e := range []struct {
		env   EnvDir
		name  string
		paths []string
	}{
		{lay.SharedEnv(), "PATH", bins},
		{lay.SharedEnv(), "LD_LIBRARY_PATH", libs},
		{lay.BuildEnv(), "LIBRARY_PATH", libs},
		{lay.BuildEnv(), "CPATH", incs},
		{lay.BuildEnv(), "PKG_CONFIG_PATH", pcs},
		{lay.SharedEnv(), "PYTHONPATH", pys},
	} {
		if len(e.paths) == 0 {
			continue
		}
		if err := e.env.Prepend(e.name, strings.Join(e.paths, sep), sep); err != nil {
			return err
		}
	}
	return nil
}

func emptyDir(p string) bool {
	ents, err := os.ReadDir(p)
	return err != nil || len(ents) == 0
}

func hasSharedLibs(dir string) bool {
	m, _ := filepath.Glob(filepath.Join(dir, "*.so*"))
	return len(m) > 0
}

// dpkgArch is the host's dpkg architecture, the one of the build image that runs us.
func dpkgArch(file string) string {
	if b, err := os.ReadFile(file); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			return f[0]
		}
	}
	return map[string]string{"amd64": "amd64", "arm64": "arm64", "arm": "armhf", "386": "i386", "ppc64le": "ppc64el", "s390x": "s390x", "riscv64": "riscv64"}[runtime.GOARCH]
}

// indent writes the apt client's lines at detail depth under the buildpack's step.
type indent struct {
	w interface{ Write([]byte) (int, error) }
}

func (i indent) Write(p []byte) (int, error) {
	var b bytes.Buffer
	for _, line := range strings.SplitAfter(string(p), "\n") {
		if line != "" {
			b.WriteString("    " + line)
		}
	}
	if _, err := i.w.Write(b.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}
