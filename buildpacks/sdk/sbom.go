package sdk

import (
	"encoding/json"
	"fmt"
	"path/filepath"
)

// Component is one software component for an SBOM.
type Component struct {
	Name, Version, PURL string
	// Hashes maps an algorithm name as CycloneDX spells it ("SHA-256", "SHA-512") to a hex
	// digest.
	Hashes map[string]string
}

// MediaTypeCycloneDX is the SBOM media type to list in buildpack.toml sbom-formats
// (buildpack.md, Software Bill of Materials).
const MediaTypeCycloneDX = "application/vnd.cyclonedx+json"

// WriteCycloneDX writes <layer>.sbom.cdx.json, a minimal CycloneDX 1.4 document listing
// components (buildpack.md, Software Bill of Materials). The buildpack must declare MediaTypeCycloneDX.
func (lay *Layer) WriteCycloneDX(components []Component) error {
	type hash struct {
		Alg     string `json:"alg"`
		Content string `json:"content"`
	}
	type comp struct {
		Type    string `json:"type"`
		Name    string `json:"name"`
		Version string `json:"version,omitempty"`
		PURL    string `json:"purl,omitempty"`
		Hashes  []hash `json:"hashes,omitempty"`
	}
	doc := struct {
		BOMFormat   string `json:"bomFormat"`
		SpecVersion string `json:"specVersion"`
		Version     int    `json:"version"`
		Components  []comp `json:"components"`
	}{BOMFormat: "CycloneDX", SpecVersion: "1.4", Version: 1, Components: []comp{}}
	for _, c := range components {
		cc := comp{Type: "application", Name: c.Name, Version: c.Version, PURL: c.PURL}
		for _, alg := range []string{"SHA-256", "SHA-512"} {
			if v, ok := c.Hashes[alg]; ok {
				cc.Hashes = append(cc.Hashes, hash{Alg: alg, Content: v})
			}
		}
		doc.Components = append(doc.Components, cc)
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("encode SBOM of layer %s: %w", lay.Name, err)
	}
	return WriteFileAtomic(filepath.Join(filepath.Dir(lay.Path), lay.Name+".sbom.cdx.json"), b, 0o644)
}
