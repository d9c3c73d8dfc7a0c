package buildpack

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"strings"

	"github.com/slipway/slipway/atomicfile"
)

// SBOM media types and the file extensions that carry them (buildpack.md, Software Bill of Materials).
const (
	MediaTypeCycloneDX = "application/vnd.cyclonedx+json"
	MediaTypeSPDX      = "application/spdx+json"
	MediaTypeSyft      = "application/vnd.syft+json"
)

var sbomExtMediaTypes = map[string]string{
	"cdx.json":  MediaTypeCycloneDX,
	"spdx.json": MediaTypeSPDX,
	"syft.json": MediaTypeSyft,
}

// SBOMKind says where a buildpack SBOM file belongs.
type SBOMKind string

// The directories under <layers>/sbom (buildpack.md, Software Bill of Materials).
const (
	SBOMLaunch SBOMKind = "launch"
	SBOMBuild  SBOMKind = "build"
	SBOMCache  SBOMKind = "cache"
)

// SBOMFile is one SBOM a buildpack wrote into its layers dir, with its destination.
type SBOMFile struct {
	BuildpackID string
	// Layer is empty for the buildpack-level launch.sbom.* and build.sbom.* files.
	Layer     string
	Kind      SBOMKind
	Path      string
	Ext       string // cdx.json, spdx.json or syft.json
	MediaType string
}

// Dest is where the file is copied: <layers>/sbom/<kind>/<escaped-bp>/[<layer>/]sbom.<ext>.
func (f SBOMFile) Dest(layersDir string) string {
	return filepath.Join(layersDir, "sbom", string(f.Kind), EscapedID(f.BuildpackID), f.Layer, "sbom."+f.Ext)
}

// FindSBOMFiles lists the SBOM files in a buildpack's layers dir (buildpack.md, Software Bill of Materials):
// launch.sbom.<ext>, build.sbom.<ext> and <layer>.sbom.<ext>. A layer SBOM goes to launch/
// for a launch layer, else to build/, and also to cache/ for a cache layer. An unknown
// extension or a format missing from the descriptor's sbom-formats is an error; an SBOM of a
// layer without <layer>.toml is skipped, as in the reference lifecycle.
func FindSBOMFiles(d *Descriptor, bpLayersDir string, layers []Layer) ([]SBOMFile, error) {
	ents, err := os.ReadDir(bpLayersDir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("read layers dir %s: %w", bpLayersDir, err)
	}
	byName := map[string]Layer{}
	for _, l := range layers {
		byName[l.Name] = l
	}
	declared := map[string]bool{}
	for _, f := range d.Buildpack.SBOMFormats {
		mt, _, err := mime.ParseMediaType(f)
		if err != nil {
			return nil, fmt.Errorf("buildpack %s: sbom-formats entry %q is not a media type: %w", d.Ref(), f, err)
		}
		declared[mt] = true
	}
	var out []SBOMFile
	for _, e := range ents {
		name, ext, ok := strings.Cut(e.Name(), ".sbom.")
		if !ok || e.IsDir() {
			continue
		}
		path := filepath.Join(bpLayersDir, e.Name())
		mt, known := sbomExtMediaTypes[ext]
		if !known {
			return nil, fmt.Errorf("buildpack %s: SBOM file %s has an unsupported format; use .sbom.cdx.json, .sbom.spdx.json or .sbom.syft.json", d.Ref(), path)
		}
		if !declared[mt] {
			return nil, fmt.Errorf("buildpack %s: SBOM file %s is %s, which buildpack.toml does not declare in [buildpack] sbom-formats", d.Ref(), path, mt)
		}
		f := SBOMFile{BuildpackID: d.Buildpack.ID, Path: path, Ext: ext, MediaType: mt}
		switch name {
		case "launch":
			f.Kind = SBOMLaunch
			out = append(out, f)
			continue
		case "build":
			f.Kind = SBOMBuild
			out = append(out, f)
			continue
		}
		l, ok := byName[name]
		if !ok {
			continue
		}
		f.Layer = name
		f.Kind = SBOMBuild
		if l.Types.Launch {
			f.Kind = SBOMLaunch
		}
		out = append(out, f)
		if l.Types.Cache {
			f.Kind = SBOMCache
			out = append(out, f)
		}
	}
	return out, nil
}

// CopySBOMFiles copies each file to its Dest under layersDir, atomically.
func CopySBOMFiles(layersDir string, files []SBOMFile) error {
	for _, f := range files {
		if err := copyFileAtomic(f.Path, f.Dest(layersDir)); err != nil {
			return fmt.Errorf("copy SBOM %s: %w", f.Path, err)
		}
	}
	return nil
}

// copyFileAtomic streams src to dst through a temp file in dst's directory (temp + fsync +
// rename), creating the directory.
func copyFileAtomic(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return atomicfile.WriteFrom(dst, 0o644, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
}
