package lifecycle

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipway/slipway/atomicfile"
)

// ELFCheckOptOut is the build environment variable (--env, project.toml) that turns the
// export-time shared-library check off.
const ELFCheckOptOut = "SLIPWAY_SKIP_ELF_CHECK"

// ELFCheckDisabled reports whether the user turned the check off in the build environment
// (<platform>/env/SLIPWAY_SKIP_ELF_CHECK, written from --env and project.toml).
func ELFCheckDisabled(platformDir string) bool {
	b, err := os.ReadFile(filepath.Join(platformDir, "env", ELFCheckOptOut))
	if err != nil {
		return false
	}
	switch strings.ToLower(strings.TrimSpace(string(b))) {
	case "true", "1", "yes", "on":
		return true
	}
	return false
}

// MissingLibraryError lists ELF files of launch layers whose DT_NEEDED libraries neither the
// run image nor any launch layer provides: the image would build and then die at start with
// "error while loading shared libraries".
type MissingLibraryError struct {
	RunImage string
	Missing  []MissingLibrary
}

// MissingLibrary is one unresolved DT_NEEDED entry.
type MissingLibrary struct {
	Layer   string // "<bp-id>:<layer>"
	File    string // path inside the image
	Library string // the DT_NEEDED name, e.g. libatomic.so.1
}

func (e *MissingLibraryError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d shared librar%s needed at launch %s missing from the run image %s and the launch layers:",
		len(e.Missing), plural(len(e.Missing), "y", "ies"), plural(len(e.Missing), "is", "are"), e.RunImage)
	for i, m := range e.Missing {
		if i == 10 {
			fmt.Fprintf(&b, "\n  … and %d more", len(e.Missing)-10)
			break
		}
		fmt.Fprintf(&b, "\n  %s (layer %s) needs %s", m.File, m.Layer, m.Library)
	}
	fmt.Fprintf(&b, "\nthe container would fail at start with \"error while loading shared libraries\". Add the library to the run image "+
		"(e.g. its Debian package in stack.toml [run] packages), have the buildpack ship it in a launch layer, or set %s=true to export anyway", ELFCheckOptOut)
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// launchDirLayer is a launch layer built from a directory, as the ELF check reads it.
type launchDirLayer struct {
	name      string // "<bp-id>:<layer>"
	dir       string // host directory
	imagePath string // its path in the image
}

// checkLaunchELF verifies that every dynamically linked ELF executable or shared library in
// the launch layers finds each DT_NEEDED library in the run image's library directories or
// somewhere in the launch layers (buildpacks put theirs in <layer>/lib, which the launcher
// adds to LD_LIBRARY_PATH, or use an RPATH). Files for another machine or libc (prebuilt
// binaries for musl or arm64 shipped in node_modules, never loaded) are skipped.
func checkLaunchELF(ctx context.Context, run v1.Image, runName string, layers []launchDirLayer, cacheDir string) error {
	type elfFile struct {
		layer, file string
		machine     elf.Machine
		needed      []string
	}
	var files []elfFile
	provided := map[string]bool{} // basenames of files in the launch layers
	for _, l := range layers {
		err := filepath.WalkDir(l.dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			provided[d.Name()] = true
			if !d.Type().IsRegular() || !maybeELF(d) {
				return nil
			}
			m, needed, ok := readNeeded(p)
			if !ok || len(needed) == 0 {
				return nil
			}
			rel, _ := filepath.Rel(l.dir, p)
			files = append(files, elfFile{layer: l.name, file: path.Join(l.imagePath, filepath.ToSlash(rel)), machine: m, needed: needed})
			return nil
		})
		if err != nil {
			return fmt.Errorf("check shared libraries of layer %s: %w", l.name, err)
		}
	}
	if len(files) == 0 {
		return nil
	}
	cf, err := run.ConfigFile()
	if err != nil {
		return fmt.Errorf("read run image config: %w", err)
	}
	want := machineFor(cf.Architecture)
	libs, err := runImageLibraries(ctx, run, cacheDir)
	if err != nil {
		return err
	}
	var missing []MissingLibrary
	for _, f := range files {
		if want != elf.EM_NONE && f.machine != want {
			continue
		}
		musl := false
		for _, n := range f.needed {
			if strings.HasPrefix(n, "libc.musl-") {
				musl = true
			}
		}
		if musl {
			continue
		}
		for _, n := range f.needed {
			if strings.Contains(n, "/") || libs[n] || provided[n] {
				continue
			}
			missing = append(missing, MissingLibrary{Layer: f.layer, File: f.file, Library: n})
		}
	}
	if len(missing) == 0 {
		return nil
	}
	sort.Slice(missing, func(i, j int) bool {
		if missing[i].File != missing[j].File {
			return missing[i].File < missing[j].File
		}
		return missing[i].Library < missing[j].Library
	})
	return &MissingLibraryError{RunImage: runName, Missing: missing}
}

// maybeELF filters by name and mode before opening: executables, and libraries that are
// often not executable (lib*.so*, Node.js addons *.node).
func maybeELF(d fs.DirEntry) bool {
	n := d.Name()
	if strings.Contains(n, ".so") || strings.HasSuffix(n, ".node") {
		return true
	}
	fi, err := d.Info()
	return err == nil && fi.Mode()&0o111 != 0 && fi.Size() > 64
}

// readNeeded returns an ELF file's machine and DT_NEEDED entries; ok is false for anything
// that is not a readable ELF file.
func readNeeded(p string) (elf.Machine, []string, bool) {
	f, err := os.Open(p)
	if err != nil {
		return 0, nil, false
	}
	defer f.Close()
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil || !bytes.Equal(magic[:], []byte(elf.ELFMAG)) {
		return 0, nil, false
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		return 0, nil, false
	}
	needed, err := ef.DynString(elf.DT_NEEDED)
	if err != nil {
		return 0, nil, false
	}
	return ef.Machine, needed, true
}

func machineFor(arch string) elf.Machine {
	switch arch {
	case "amd64":
		return elf.EM_X86_64
	case "arm64":
		return elf.EM_AARCH64
	case "386":
		return elf.EM_386
	case "arm":
		return elf.EM_ARM
	case "ppc64le":
		return elf.EM_PPC64
	case "s390x":
		return elf.EM_S390
	case "riscv64":
		return elf.EM_RISCV
	}
	return elf.EM_NONE
}

// libraryPath matches the directories the dynamic loader searches by default and the
// multiarch ones Debian's ld.so.conf.d adds: /lib, /lib64, /usr/lib, /usr/local/lib and
// one level below them (/usr/lib/x86_64-linux-gnu).
var libraryPath = regexp.MustCompile(`^(usr/)?(local/)?lib(32|64|x32)?/([^/]+/)?[^/]+$`)

var runLibsMemo sync.Map // run image digest → map[string]bool

// runImageLibraries lists the library names in the run image's library directories,
// streaming its layers once per digest (memoised in the process and, when cacheDir is set,
// on disk). Later layers' whiteouts remove earlier entries.
func runImageLibraries(ctx context.Context, run v1.Image, cacheDir string) (map[string]bool, error) {
	digest, err := run.Digest()
	if err != nil {
		return nil, fmt.Errorf("read run image digest: %w", err)
	}
	if v, ok := runLibsMemo.Load(digest.String()); ok {
		return v.(map[string]bool), nil
	}
	cacheFile := ""
	if cacheDir != "" {
		cacheFile = filepath.Join(cacheDir, digest.Algorithm+"-"+digest.Hex+".json")
		if b, err := os.ReadFile(cacheFile); err == nil {
			var names []string
			if json.Unmarshal(b, &names) == nil {
				libs := toSet(names)
				runLibsMemo.Store(digest.String(), libs)
				return libs, nil
			}
		}
	}
	layers, err := run.Layers()
	if err != nil {
		return nil, fmt.Errorf("read run image layers: %w", err)
	}
	present := map[string]bool{} // full paths
	for _, l := range layers {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := scanLibraries(l, present); err != nil {
			return nil, err
		}
	}
	var names []string
	seen := map[string]bool{}
	for p := range present {
		if n := path.Base(p); !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if cacheFile != "" {
		if b, err := json.Marshal(names); err == nil && os.MkdirAll(cacheDir, 0o755) == nil {
			_ = atomicfile.Write(cacheFile, b, 0o644) // a cache: a failed write only costs a rescan
		}
	}
	libs := toSet(names)
	runLibsMemo.Store(digest.String(), libs)
	return libs, nil
}

func scanLibraries(l v1.Layer, present map[string]bool) error {
	rc, err := l.Uncompressed()
	if err != nil {
		return fmt.Errorf("read run image layer: %w", err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read run image layer: %w", err)
		}
		name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		dir, base := path.Split(name)
		if wh, ok := strings.CutPrefix(base, ".wh."); ok {
			if wh == ".wh..opq" {
				for p := range present {
					if strings.HasPrefix(p, dir) {
						delete(present, p)
					}
				}
			} else {
				delete(present, dir+wh)
			}
			continue
		}
		if h.Typeflag != tar.TypeDir && libraryPath.MatchString(name) {
			present[name] = true
		}
	}
}

func toSet(names []string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}
