package stack

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/slipway/slipway/debian"
)

// writeAptRecord records in the build image the stack's apt sources (with copies of
// their keyrings, since the build image need not carry them) and the run image's
// installed packages, so buildpacks can install further packages that match the run
// image and skip what it already has (buildpacks/apt/README.md).
// It is small: one line per source, and per run package only the fields dependency
// resolution needs.
func writeAptRecord(root *os.Root, def *Definition, runPkgs []*debian.Package) error {
	dir := strings.TrimPrefix(debian.StackRecordDir, "/")
	keyDir := strings.TrimPrefix(debian.StackKeyringDir, "/")
	if err := root.MkdirAll(keyDir, 0o755); err != nil {
		return err
	}
	var sources []debian.Source
	written := map[string]string{} // keyring path on the host → path in the image
	for _, s := range def.Sources {
		host := def.KeyringPath(s)
		inImage, ok := written[host]
		if !ok {
			data, err := os.ReadFile(host)
			if err != nil {
				return fmt.Errorf("copy keyring: %w", err)
			}
			name := filepath.Base(host)
			for i := 2; ; i++ {
				if !contains(written, debian.StackKeyringDir+"/"+name) {
					break
				}
				name = fmt.Sprintf("%d-%s", i, filepath.Base(host))
			}
			inImage = debian.StackKeyringDir + "/" + name
			if err := root.WriteFile(strings.TrimPrefix(inImage, "/"), data, 0o644); err != nil {
				return err
			}
			written[host] = inImage
		}
		sources = append(sources, debian.Source{URL: s.URL, Suite: s.Suite, Components: s.Components, Architecture: def.Architecture, Keyring: inImage})
	}
	if err := root.WriteFile(dir+"/sources.list", debian.FormatSourcesList(sources), 0o644); err != nil {
		return err
	}
	pkgs := append([]*debian.Package(nil), runPkgs...)
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].Name < pkgs[j].Name })
	var status bytes.Buffer
	for _, p := range pkgs {
		para := debian.Paragraph{{Name: "Package", Value: p.Name}, {Name: "Status", Value: "install ok installed"},
			{Name: "Architecture", Value: p.Architecture}, {Name: "Version", Value: p.Version}}
		if len(p.Provides) > 0 {
			var prov []string
			for _, r := range p.Provides {
				if r.Op == "=" {
					prov = append(prov, fmt.Sprintf("%s (= %s)", r.Name, r.Version))
				} else {
					prov = append(prov, r.Name)
				}
			}
			para = append(para, debian.Field{Name: "Provides", Value: strings.Join(prov, ", ")})
		}
		if _, err := para.WriteTo(&status); err != nil {
			return err
		}
	}
	return root.WriteFile(strings.TrimPrefix(debian.StackRunStatus, "/"), status.Bytes(), 0o644)
}

func contains(m map[string]string, v string) bool {
	for _, x := range m {
		if x == v {
			return true
		}
	}
	return false
}
