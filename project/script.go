package project

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/slipway/slipway/atomicfile"
	"github.com/slipway/slipway/tomlfile"

	"github.com/slipway/slipway/buildpack"
)

// inlineDefaultVersion is the version pack gives an inline buildpack that names none.
const inlineDefaultVersion = "0.0.0"

// MaterializeScript writes the inline script buildpack ref as a buildpack directory at
// <dir>/<escaped id>/<version>/, the /cnb/buildpacks layout (docs/spec-notes.md, Builder image), so dir may be
// the build's buildpacks directory itself. Like pack, bin/detect always passes and bin/build
// is "#!<shell>" followed by the inline script. It returns the buildpack directory.
func MaterializeScript(ref BuildpackRef, dir string) (string, error) {
	if ref.Script == nil {
		return "", fmt.Errorf("materialize inline buildpack %s: it has no [script]", ref.Ref())
	}
	if err := ref.validate(); err != nil {
		return "", fmt.Errorf("materialize inline buildpack: %w", err)
	}
	version := ref.Version
	if version == "" {
		version = inlineDefaultVersion
	}
	// The id and version become path components; refuse anything that could leave dir
	// before buildpack.ReadDescriptor gets to validate them properly.
	esc := buildpack.EscapedID(ref.ID)
	if esc == "." || esc == ".." || strings.ContainsAny(version, `/\`) || version == "." || version == ".." {
		return "", fmt.Errorf("materialize inline buildpack %s: id or version is not a valid path component", ref.Ref())
	}
	bpDir := filepath.Join(dir, esc, version)
	if err := os.MkdirAll(filepath.Join(bpDir, "bin"), 0o755); err != nil {
		return "", fmt.Errorf("materialize inline buildpack %s: %w", ref.ID, err)
	}
	desc := struct {
		API       string `toml:"api"`
		Buildpack struct {
			ID      string `toml:"id"`
			Version string `toml:"version"`
		} `toml:"buildpack"`
	}{API: ref.Script.API}
	desc.Buildpack.ID, desc.Buildpack.Version = ref.ID, version
	if err := tomlfile.Write(filepath.Join(bpDir, "buildpack.toml"), desc); err != nil {
		return "", fmt.Errorf("materialize inline buildpack %s: %w", ref.ID, err)
	}
	shell := ref.Script.Shell
	if shell == "" {
		shell = DefaultShell
	}
	scripts := map[string]string{
		"detect": "#!" + shell + "\n\nexit 0\n",
		"build":  "#!" + shell + "\n\n" + ref.Script.Inline + "\n",
	}
	for name, body := range scripts {
		if err := atomicfile.Write(filepath.Join(bpDir, "bin", name), []byte(body), 0o755); err != nil {
			return "", fmt.Errorf("materialize inline buildpack %s: %w", ref.ID, err)
		}
	}
	// Read it back so an invalid id or version fails here, naming the buildpack, rather than
	// at detect time.
	if _, err := buildpack.ReadDescriptor(bpDir); err != nil {
		return "", fmt.Errorf("materialize inline buildpack %s: %w", ref.ID, err)
	}
	return bpDir, nil
}
