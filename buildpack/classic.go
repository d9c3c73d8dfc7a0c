package buildpack

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/slipway/slipway/tomlfile"
)

// Classic buildpacks are the Heroku (bin/detect, bin/compile, bin/release) and Cloud Foundry
// (bin/supply, bin/finalize) buildpacks that predate Cloud Native Buildpacks. Slipway runs
// them unmodified behind the same Descriptor.Detect/Build calls as CNB buildpacks: when one
// is laid out, a buildpack.toml is generated beside the untouched tree (kept in the
// subdirectory ClassicTreeDir), with id classic/<name> and Buildpack API 0.8, whose
// shell-run (non-direct) processes and layer profile.d scripts are exactly the Heroku
// runtime's `bash -c` and .profile.d semantics. See docs/classic-buildpacks.md.

// ClassicTreeDir is the subdirectory of an installed classic buildpack holding the buildpack
// as fetched.
const ClassicTreeDir = "classic"

// ClassicAPI is the Buildpack API a classic buildpack is run under: B < 0.9 keeps
// shell processes and sources layer profile.d scripts at launch (buildpack.md, Launch).
const ClassicAPI = "0.8"

// ClassicIDPrefix starts the id of every classic buildpack.
const ClassicIDPrefix = "classic/"

// ClassicInfo is [metadata.classic] of a generated buildpack.toml.
type ClassicInfo struct {
	// Source is where the buildpack came from (path, URL, URL#ref), for messages.
	Source string
	// Tree is the directory holding bin/compile etc.
	Tree string
}

// IsClassicID reports whether id names a classic buildpack.
func IsClassicID(id string) bool { return strings.HasPrefix(id, ClassicIDPrefix) }

// IsClassicDir reports whether dir holds a classic buildpack: bin/compile (Heroku) or
// bin/supply / bin/finalize (Cloud Foundry), and either no buildpack.toml or one without a
// top-level api (Heroku's registry metadata).
func IsClassicDir(dir string) bool {
	hasBin := false
	for _, name := range []string{"compile", "supply", "finalize"} {
		if fi, err := os.Stat(filepath.Join(dir, "bin", name)); err == nil && !fi.IsDir() {
			hasBin = true
			break
		}
	}
	if !hasBin {
		return false
	}
	var probe struct {
		API string `toml:"api"`
	}
	err := tomlfile.Read(filepath.Join(dir, "buildpack.toml"), &probe)
	if errors.Is(err, fs.ErrNotExist) {
		return true
	}
	return err == nil && probe.API == ""
}

var classicNameStrip = regexp.MustCompile(`[^a-z0-9.-]+`)

// ClassicName derives the <name> of classic/<name> from where the buildpack came from: the
// last path element of a directory, archive or URL, lower-cased, without archive or .git
// suffixes.
func ClassicName(source string) string {
	s := source
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimRight(s, "/")
	if i := strings.LastIndexAny(s, `/\:`); i >= 0 {
		s = s[i+1:]
	}
	s = strings.ToLower(s)
	for _, ext := range []string{".tar.gz", ".tgz", ".tar", ".zip", ".git"} {
		s = strings.TrimSuffix(s, ext)
	}
	s = strings.Trim(classicNameStrip.ReplaceAllString(s, "-"), "-.")
	if s == "" {
		s = "buildpack"
	}
	return s
}

var classicVersionStrip = regexp.MustCompile(`[^A-Za-z0-9._+-]+`)

// ClassicVersion is the version shown for a classic buildpack: the git ref or tag it was
// fetched at (a leading "v" of a version tag dropped), else the first 12 hex digits of its
// content digest.
func ClassicVersion(ref, digestHex string) string {
	if ref != "" {
		v := classicVersionStrip.ReplaceAllString(ref, "-")
		if len(v) > 1 && v[0] == 'v' && v[1] >= '0' && v[1] <= '9' {
			v = v[1:]
		}
		return strings.Trim(v, "-.")
	}
	if len(digestHex) > 12 {
		digestHex = digestHex[:12]
	}
	return "sha256-" + digestHex
}

// classicDescriptor is what WriteClassicDescriptor writes.
type classicDescriptor struct {
	API       string `toml:"api"`
	Buildpack struct {
		ID      string `toml:"id"`
		Version string `toml:"version"`
		Name    string `toml:"name"`
	} `toml:"buildpack"`
	Metadata struct {
		Classic struct {
			Source string `toml:"source"`
			Tree   string `toml:"tree"`
		} `toml:"classic"`
	} `toml:"metadata"`
}

// WriteClassicDescriptor writes dir/buildpack.toml for the classic buildpack whose tree is
// dir/ClassicTreeDir and returns it as read back.
func WriteClassicDescriptor(dir, name, version, source string) (*Descriptor, error) {
	var c classicDescriptor
	c.API = ClassicAPI
	c.Buildpack.ID = ClassicIDPrefix + name
	c.Buildpack.Version = version
	c.Buildpack.Name = name
	c.Metadata.Classic.Source = source
	c.Metadata.Classic.Tree = ClassicTreeDir
	if err := tomlfile.Write(filepath.Join(dir, "buildpack.toml"), c); err != nil {
		return nil, fmt.Errorf("describe classic buildpack %s: %w", source, err)
	}
	return ReadDescriptor(dir)
}

// classicInfo reads [metadata.classic] of a generated descriptor; nil for CNB buildpacks.
func (d *Descriptor) classicInfo() (*ClassicInfo, error) {
	md, ok := d.Metadata.(map[string]any)
	if !ok {
		return nil, nil
	}
	c, ok := md["classic"].(map[string]any)
	if !ok {
		return nil, nil
	}
	if !IsClassicID(d.Buildpack.ID) {
		return nil, fmt.Errorf("[metadata.classic] is only valid for buildpack ids starting with %q", ClassicIDPrefix)
	}
	tree, _ := c["tree"].(string)
	if tree == "" || filepath.IsAbs(tree) || strings.Contains(tree, "..") {
		return nil, fmt.Errorf("[metadata.classic] tree %q must be a subdirectory of the buildpack", tree)
	}
	src, _ := c["source"].(string)
	return &ClassicInfo{Source: src, Tree: filepath.Join(d.Dir, tree)}, nil
}
