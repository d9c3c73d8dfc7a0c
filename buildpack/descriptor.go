package buildpack

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/slipway/slipway/api"
	"github.com/slipway/slipway/tomlfile"
)

// Descriptor is buildpack.toml (buildpack.md, buildpack.toml (TOML)).
type Descriptor struct {
	API       string   `toml:"api"`
	Buildpack Info     `toml:"buildpack"`
	Order     Order    `toml:"order"`
	Targets   []Target `toml:"targets"`
	Stacks    []Stack  `toml:"stacks"`
	Metadata  any      `toml:"metadata"`

	// Dir is the directory holding buildpack.toml; not part of the file.
	Dir string `toml:"-"`
	// Classic is set for a classic (Heroku / Cloud Foundry) buildpack laid out by Slipway;
	// see classic.go.
	Classic *ClassicInfo `toml:"-"`
}

// Info is the [buildpack] table (buildpack.md, buildpack.toml (TOML)).
type Info struct {
	ID          string    `toml:"id"`
	Version     string    `toml:"version"`
	Name        string    `toml:"name,omitempty"`
	Homepage    string    `toml:"homepage,omitempty"`
	Description string    `toml:"description,omitempty"`
	Keywords    []string  `toml:"keywords,omitempty"`
	Licenses    []License `toml:"licenses,omitempty"`
	ClearEnv    bool      `toml:"clear-env,omitempty"`
	SBOMFormats []string  `toml:"sbom-formats,omitempty"`
	// ExecEnv accepts both the lifecycle's string array and the spec's [[buildpack.exec-env]]
	// tables on read (docs/spec-notes.md, Execution environments).
	ExecEnv ExecEnvList `toml:"exec-env,omitempty"`
}

// License is [[buildpack.licenses]].
type License struct {
	Type string `toml:"type,omitempty"`
	URI  string `toml:"uri,omitempty"`
}

// Target is one [[targets]] entry (buildpack.md, buildpack.toml (TOML), targets). Empty fields match anything.
type Target struct {
	OS      string `toml:"os,omitempty" json:"os,omitempty"`
	Arch    string `toml:"arch,omitempty" json:"arch,omitempty"`
	Variant string `toml:"variant,omitempty" json:"variant,omitempty"`
	// ArchVariant is the lifecycle's spelling of Variant; both are accepted (buildpack.md, buildpack.toml (TOML), targets).
	ArchVariant string   `toml:"arch-variant,omitempty" json:"-"`
	Distros     []Distro `toml:"distros,omitempty" json:"distros,omitempty"`
}

// Distro is [[targets.distros]].
type Distro struct {
	Name    string `toml:"name,omitempty" json:"name,omitempty"`
	Version string `toml:"version,omitempty" json:"version,omitempty"`
}

// Stack is a legacy [[stacks]] entry.
type Stack struct {
	ID     string   `toml:"id"`
	Mixins []string `toml:"mixins,omitempty"`
}

// ExecEnvList decodes either ["production", …] or [{name="production"}, …].
type ExecEnvList []string

// UnmarshalTOML implements toml.Unmarshaler.
func (l *ExecEnvList) UnmarshalTOML(v any) error {
	items, ok := v.([]any)
	if !ok {
		return fmt.Errorf("exec-env must be an array, got %T", v)
	}
	for _, it := range items {
		switch x := it.(type) {
		case string:
			*l = append(*l, x)
		case map[string]any:
			name, _ := x["name"].(string)
			if name == "" {
				return errors.New("exec-env table entry needs a name")
			}
			*l = append(*l, name)
		default:
			return fmt.Errorf("exec-env entry must be a string or table, got %T", it)
		}
	}
	return nil
}

// Allows reports whether the list admits execEnv; an empty list or "*" admits all.
func (l ExecEnvList) Allows(execEnv string) bool {
	if len(l) == 0 {
		return true
	}
	for _, e := range l {
		if e == "*" || e == execEnv {
			return true
		}
	}
	return false
}

// ReadDescriptor reads and validates dir/buildpack.toml. TOML syntax errors carry the file
// name and line/column.
func ReadDescriptor(dir string) (*Descriptor, error) {
	path := filepath.Join(dir, "buildpack.toml")
	var d Descriptor
	if err := tomlfile.Read(path, &d); err != nil {
		return nil, err
	}
	d.Dir = dir
	c, err := d.classicInfo()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	d.Classic = c
	if err := d.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &d, nil
}

func (d *Descriptor) validate() error {
	if d.API == "" {
		return errors.New("missing top-level api (e.g. api = \"0.12\")")
	}
	if _, err := api.ForBuildpack(d.API, "buildpack "+d.Buildpack.ID); err != nil {
		return err
	}
	id := d.Buildpack.ID
	if id == "" {
		return errors.New("missing [buildpack] id")
	}
	if err := ValidateID(id); err != nil {
		return err
	}
	if d.Buildpack.Version == "" {
		return fmt.Errorf("buildpack %s: missing [buildpack] version", id)
	}
	// A classic buildpack's version is a git ref or content digest, not semver; it is a
	// path component all the same.
	if d.Classic != nil {
		if err := validateClassicVersion(d.Buildpack.Version); err != nil {
			return fmt.Errorf("buildpack %s: %w", id, err)
		}
	} else if err := ValidateVersion(d.Buildpack.Version); err != nil {
		return fmt.Errorf("buildpack %s: %w", id, err)
	}
	for i, g := range d.Order {
		for _, e := range g.Group {
			if err := ValidateRef(e.ID, e.Version); err != nil {
				return fmt.Errorf("buildpack %s: [[order]] %d: %w", id, i+1, err)
			}
		}
	}
	for i := range d.Targets {
		if d.Targets[i].Variant == "" {
			d.Targets[i].Variant = d.Targets[i].ArchVariant
		}
	}
	if d.IsComposite() && len(d.Targets) > 0 {
		return fmt.Errorf("buildpack %s: a composite buildpack (with [[order]]) may not declare [[targets]]", id)
	}
	return nil
}

// IsComposite reports whether the buildpack is an order of other buildpacks (buildpack.md, Order Buildpacks).
func (d *Descriptor) IsComposite() bool { return len(d.Order) > 0 }

// Ref is "id@version", the way buildpacks are named in messages.
func (d *Descriptor) Ref() string { return d.Buildpack.ID + "@" + d.Buildpack.Version }

// APIFeatures resolves the buildpack's declared API; validated by ReadDescriptor.
func (d *Descriptor) APIFeatures() api.Buildpack {
	b, _ := api.ForBuildpack(d.API, d.Ref())
	return b
}

// EscapedID is the id with '/' replaced by '_', used for every on-disk path (platform.md, Buildpacks Directory Layout).
func EscapedID(id string) string { return strings.ReplaceAll(id, "/", "_") }
