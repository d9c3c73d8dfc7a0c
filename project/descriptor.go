package project

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/slipway/slipway/api"
	"github.com/slipway/slipway/tomlfile"
)

// Schema versions of project.toml this package reads (extensions/project-descriptor.md).
const (
	Schema01 = "0.1"
	Schema02 = "0.2"
)

// Descriptor is project.toml normalized across schema 0.1 and 0.2 (extensions/project-descriptor.md).
type Descriptor struct {
	// SchemaVersion is the schema the file was read as: Schema01 or Schema02.
	SchemaVersion string

	ID               string
	Name             string
	Version          string
	Authors          []string
	DocumentationURL string
	SourceURL        string
	Licenses         []License

	// Builder is [io.buildpacks] builder (0.2) or [build] builder (0.1).
	Builder string
	// Include and Exclude are gitignore-style patterns; at most one of them is set.
	Include []string
	Exclude []string

	// Buildpacks is [[io.buildpacks.group]] (0.2) or [[build.buildpacks]] (0.1).
	Buildpacks []BuildpackRef
	// Pre and Post are inserted before/after every group of the order (0.2 only).
	Pre  []BuildpackRef
	Post []BuildpackRef
	// Env is [[io.buildpacks.build.env]] (0.2) or [[build.env]] (0.1); the platform writes
	// these as <platform>/env files.
	Env []EnvVar

	// Metadata is [_.metadata] (0.2) or [metadata] (0.1), free-form.
	Metadata map[string]any

	// Warnings lists keys the schema does not define inside the tables it owns; they are
	// ignored. Callers should print them (pack warns about the same keys).
	Warnings []string
}

// License is one [[_.licenses]] entry.
type License struct {
	Type string `toml:"type"`
	URI  string `toml:"uri"`
}

// BuildpackRef names a buildpack of the project's group: by id (with an optional version),
// by uri, or as an inline script.
type BuildpackRef struct {
	ID      string  `toml:"id"`
	Version string  `toml:"version"`
	URI     string  `toml:"uri"`
	Script  *Script `toml:"script"`
}

// Script is an inline buildpack: its bin/build runs Inline with Shell (extensions/project-descriptor.md).
type Script struct {
	API    string `toml:"api"`
	Inline string `toml:"inline"`
	// Shell defaults to DefaultShell.
	Shell string `toml:"shell"`
}

// DefaultShell runs inline scripts that do not name a shell (extensions/project-descriptor.md).
const DefaultShell = "/bin/sh"

// EnvVar is one build-time environment variable.
type EnvVar struct {
	Name  string `toml:"name"`
	Value string `toml:"value"`
}

// Ref is a short human name for messages.
func (r BuildpackRef) Ref() string {
	switch {
	case r.ID != "" && r.Version != "":
		return r.ID + "@" + r.Version
	case r.ID != "":
		return r.ID
	default:
		return r.URI
	}
}

// v02File is the on-disk shape of schema 0.2.
type v02File struct {
	Project struct {
		SchemaVersion    string         `toml:"schema-version"`
		ID               string         `toml:"id"`
		Name             string         `toml:"name"`
		Version          string         `toml:"version"`
		Authors          []string       `toml:"authors"`
		DocumentationURL string         `toml:"documentation-url"`
		SourceURL        string         `toml:"source-url"`
		Licenses         []License      `toml:"licenses"`
		Metadata         map[string]any `toml:"metadata"`
	} `toml:"_"`
	IO struct {
		Buildpacks struct {
			Builder string         `toml:"builder"`
			Include []string       `toml:"include"`
			Exclude []string       `toml:"exclude"`
			Group   []BuildpackRef `toml:"group"`
			Pre     struct {
				Group []BuildpackRef `toml:"group"`
			} `toml:"pre"`
			Post struct {
				Group []BuildpackRef `toml:"group"`
			} `toml:"post"`
			Build struct {
				Env []EnvVar `toml:"env"`
			} `toml:"build"`
			// Env.Build is [[io.buildpacks.env.build]], a spelling pack accepted before
			// settling on [[io.buildpacks.build.env]]; read it for compatibility.
			Env struct {
				Build []EnvVar `toml:"build"`
			} `toml:"env"`
		} `toml:"buildpacks"`
	} `toml:"io"`
}

// v01File is the on-disk shape of schema 0.1 (pack's original format).
type v01File struct {
	Project struct {
		ID               string    `toml:"id"`
		Name             string    `toml:"name"`
		Version          string    `toml:"version"`
		Authors          []string  `toml:"authors"`
		DocumentationURL string    `toml:"documentation-url"`
		SourceURL        string    `toml:"source-url"`
		Licenses         []License `toml:"licenses"`
	} `toml:"project"`
	Build struct {
		Builder    string         `toml:"builder"`
		Include    []string       `toml:"include"`
		Exclude    []string       `toml:"exclude"`
		Env        []EnvVar       `toml:"env"`
		Buildpacks []BuildpackRef `toml:"buildpacks"`
	} `toml:"build"`
	Metadata map[string]any `toml:"metadata"`
}

// Read reads and validates the project descriptor at path. Without a schema-version it is
// read as schema 0.1, as pack does. TOML errors carry the file name and line/column;
// validation errors name the file and the table or entry at fault.
func Read(path string) (*Descriptor, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read project descriptor %s: %w", path, err)
	}
	data := string(b)

	var probe struct {
		Project map[string]any `toml:"_"`
	}
	if _, err := toml.Decode(data, &probe); err != nil {
		return nil, tomlfile.Error(path, err)
	}
	version := ""
	if probe.Project != nil {
		v, ok := probe.Project["schema-version"].(string)
		if !ok {
			return nil, fmt.Errorf("%s: [_] needs schema-version = %q (a string)", path, Schema02)
		}
		version = v
	}

	var d *Descriptor
	switch version {
	case "":
		d, err = readV01(path, data)
	case Schema02:
		d, err = readV02(path, data)
	default:
		return nil, fmt.Errorf("%s: unsupported schema-version %q; supported: %s, %s", path, version, Schema01, Schema02)
	}
	if err != nil {
		return nil, err
	}
	if err := d.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

func readV02(path, data string) (*Descriptor, error) {
	var f v02File
	md, err := toml.Decode(data, &f)
	if err != nil {
		return nil, tomlfile.Error(path, err)
	}
	if md.IsDefined("io", "buildpacks", "include") && md.IsDefined("io", "buildpacks", "exclude") {
		return nil, fmt.Errorf("%s: [io.buildpacks] has both include and exclude; use one", path)
	}
	bp := f.IO.Buildpacks
	env := bp.Build.Env
	if len(env) == 0 {
		env = bp.Env.Build
	}
	d := &Descriptor{
		SchemaVersion:    Schema02,
		ID:               f.Project.ID,
		Name:             f.Project.Name,
		Version:          f.Project.Version,
		Authors:          f.Project.Authors,
		DocumentationURL: f.Project.DocumentationURL,
		SourceURL:        f.Project.SourceURL,
		Licenses:         f.Project.Licenses,
		Builder:          bp.Builder,
		Include:          bp.Include,
		Exclude:          bp.Exclude,
		Buildpacks:       bp.Group,
		Pre:              bp.Pre.Group,
		Post:             bp.Post.Group,
		Env:              env,
		Metadata:         f.Project.Metadata,
	}
	d.Warnings = unknownKeys(md, func(k string) bool {
		// Other top-level tables belong to other tools (extensions/project-descriptor.md); only keys under
		// tables this schema owns are suspicious.
		return (strings.HasPrefix(k, "_.") && !strings.HasPrefix(k, "_.metadata")) ||
			strings.HasPrefix(k, "io.buildpacks.")
	})
	return d, nil
}

func readV01(path, data string) (*Descriptor, error) {
	var f v01File
	md, err := toml.Decode(data, &f)
	if err != nil {
		return nil, tomlfile.Error(path, err)
	}
	if md.IsDefined("build", "include") && md.IsDefined("build", "exclude") {
		return nil, fmt.Errorf("%s: [build] has both include and exclude; use one", path)
	}
	d := &Descriptor{
		SchemaVersion:    Schema01,
		ID:               f.Project.ID,
		Name:             f.Project.Name,
		Version:          f.Project.Version,
		Authors:          f.Project.Authors,
		DocumentationURL: f.Project.DocumentationURL,
		SourceURL:        f.Project.SourceURL,
		Licenses:         f.Project.Licenses,
		Builder:          f.Build.Builder,
		Include:          f.Build.Include,
		Exclude:          f.Build.Exclude,
		Buildpacks:       f.Build.Buildpacks,
		Env:              f.Build.Env,
		Metadata:         f.Metadata,
	}
	d.Warnings = unknownKeys(md, func(k string) bool {
		return strings.HasPrefix(k, "project.") || strings.HasPrefix(k, "build.") ||
			strings.HasPrefix(k, "io.buildpacks")
	})
	return d, nil
}

// unknownKeys lists undecoded keys that owned reports as belonging to the schema's tables.
func unknownKeys(md toml.MetaData, owned func(string) bool) []string {
	und := md.Undecoded()
	var out []string
	for _, k := range und {
		s := k.String()
		if !owned(s) {
			continue
		}
		// Report leaves only: an unknown table is named by its keys.
		parent := false
		for _, o := range und {
			if strings.HasPrefix(o.String(), s+".") {
				parent = true
				break
			}
		}
		if !parent {
			out = append(out, fmt.Sprintf("unknown key %q is ignored", s))
		}
	}
	sort.Strings(out)
	return out
}

// validate checks what the schema requires and normalizes defaults (script shell).
func (d *Descriptor) validate() error {
	groupTable, envTable, licTable := "[[io.buildpacks.group]]", "[[io.buildpacks.build.env]]", "[[_.licenses]]"
	if d.SchemaVersion == Schema01 {
		groupTable, envTable, licTable = "[[build.buildpacks]]", "[[build.env]]", "[[project.licenses]]"
	}
	for i, l := range d.Licenses {
		if l.Type == "" && l.URI == "" {
			return fmt.Errorf("%s entry %d: set type or uri", licTable, i+1)
		}
	}
	for _, list := range []struct {
		table string
		refs  []BuildpackRef
	}{
		{groupTable, d.Buildpacks},
		{"[[io.buildpacks.pre.group]]", d.Pre},
		{"[[io.buildpacks.post.group]]", d.Post},
	} {
		for i := range list.refs {
			if err := list.refs[i].validate(); err != nil {
				return fmt.Errorf("%s entry %d: %w", list.table, i+1, err)
			}
		}
	}
	for i, e := range d.Env {
		if err := validEnvName(e.Name); err != nil {
			return fmt.Errorf("%s entry %d: %w", envTable, i+1, err)
		}
	}
	return nil
}

// validate enforces the group entry rules (extensions/project-descriptor.md): an id, a uri, or an id with an
// inline [script]; a uri excludes version and [script]. Two pack-compatible allowances: an id
// alone means whichever version the builder has, and an inline script may carry a version
// (pack uses it for the generated buildpack, defaulting to 0.0.0).
func (r *BuildpackRef) validate() error {
	if r.URI != "" && (r.Version != "" || r.Script != nil) {
		return fmt.Errorf("buildpack %s: set only one of version, uri or [script]", r.Ref())
	}
	if r.ID == "" && r.URI == "" {
		return errors.New("set id (and optionally version), uri, or id with [script]")
	}
	if r.Script == nil {
		return nil
	}
	if r.ID == "" {
		return errors.New("an inline [script] buildpack needs an id")
	}
	if r.Script.API == "" {
		return fmt.Errorf("inline buildpack %s: [script] needs api (e.g. api = \"0.12\")", r.ID)
	}
	if _, err := api.ForBuildpack(r.Script.API, "inline buildpack "+r.ID); err != nil {
		return err
	}
	if strings.TrimSpace(r.Script.Inline) == "" {
		return fmt.Errorf("inline buildpack %s: [script] needs inline (the build script)", r.ID)
	}
	if r.Script.Shell == "" {
		r.Script.Shell = DefaultShell
	}
	return nil
}

// validEnvName rejects names that cannot be an environment variable or that would escape
// <platform>/env when written as a file name.
func validEnvName(name string) error {
	switch {
	case name == "":
		return errors.New("env var needs a name")
	case strings.ContainsAny(name, "=/\x00"), name == ".", name == "..":
		return fmt.Errorf("env var name %q may not contain '=', '/' or NUL", name)
	}
	return nil
}
