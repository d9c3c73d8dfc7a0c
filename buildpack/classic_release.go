package buildpack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"

	"gopkg.in/yaml.v3"

	"github.com/slipway/slipway/buildpacks/procfile"
	"github.com/slipway/slipway/launch"
	"github.com/slipway/slipway/tomlfile"
)

// ClassicRelease is what bin/release printed (Heroku Dev Center, Buildpack API: bin/release),
// with the app's Procfile applied.
type ClassicRelease struct {
	// Processes maps process type to its shell command line, in type order.
	Processes []ClassicProcess
	// ConfigVars are launch env defaults: the app's own config wins.
	ConfigVars map[string]string
	// Warnings are keys with no Slipway meaning (addons) the user should know about.
	Warnings []string
}

// ClassicProcess is one process type and its shell command line.
type ClassicProcess struct {
	Type, Command string
}

var envNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// maxReleaseOutput bounds what is read of bin/release's stdout.
const maxReleaseOutput = 1 << 20

// ParseClassicRelease reads bin/release's YAML: default_process_types (type → command),
// config_vars (name → value) and addons (ignored with a warning). Errors carry the line.
// source names the output in messages.
func ParseClassicRelease(data []byte, source string) (*ClassicRelease, error) {
	rel := &ClassicRelease{ConfigVars: map[string]string{}}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		// yaml.v3 syntax errors read "yaml: line N: …".
		return nil, fmt.Errorf("%s is not valid YAML: %w", source, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return rel, nil // empty output: nothing to release
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return rel, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: line %d: expected a mapping with default_process_types, config_vars or addons", source, root.Line)
	}
	stringMap := func(key, val *yaml.Node, what string) (map[string]string, []int, error) {
		if val.Kind == yaml.ScalarNode && val.Tag == "!!null" {
			return nil, nil, nil
		}
		if val.Kind != yaml.MappingNode {
			return nil, nil, fmt.Errorf("%s: line %d: %s must be a mapping of %s", source, val.Line, key.Value, what)
		}
		m := map[string]string{}
		var lines []int
		for i := 0; i+1 < len(val.Content); i += 2 {
			k, v := val.Content[i], val.Content[i+1]
			if k.Kind != yaml.ScalarNode || v.Kind != yaml.ScalarNode {
				return nil, nil, fmt.Errorf("%s: line %d: %s entry must be a plain %s", source, k.Line, key.Value, what)
			}
			m[k.Value] = v.Value
			lines = append(lines, k.Line)
		}
		return m, lines, nil
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, val := root.Content[i], root.Content[i+1]
		switch key.Value {
		case "default_process_types":
			m, _, err := stringMap(key, val, "process type to command")
			if err != nil {
				return nil, err
			}
			for t, c := range m {
				if !processTypePattern.MatchString(t) {
					return nil, fmt.Errorf("%s: line %d: process type %q may contain only letters, digits, '.', '_' and '-'", source, key.Line, t)
				}
				rel.Processes = append(rel.Processes, ClassicProcess{Type: t, Command: c})
			}
		case "config_vars":
			m, _, err := stringMap(key, val, "variable name to value")
			if err != nil {
				return nil, err
			}
			for k, v := range m {
				if k == "" || !envNamePattern.MatchString(k) {
					return nil, fmt.Errorf("%s: line %d: config var name %q is not a valid environment variable name", source, key.Line, k)
				}
				rel.ConfigVars[k] = v
			}
		case "addons":
			if len(val.Content) > 0 || (val.Kind == yaml.ScalarNode && val.Value != "") {
				rel.Warnings = append(rel.Warnings, fmt.Sprintf("%s: line %d: addons are Heroku-provisioned services; Slipway ignores them (provide the services and their config yourself)", source, key.Line))
			}
		default:
			rel.Warnings = append(rel.Warnings, fmt.Sprintf("%s: line %d: unknown key %q ignored", source, key.Line, key.Value))
		}
	}
	sort.Slice(rel.Processes, func(i, j int) bool { return rel.Processes[i].Type < rel.Processes[j].Type })
	return rel, nil
}

// classicRelease runs bin/release BUILD_DIR (when the buildpack has one) and applies the
// app's Procfile on top: "a Procfile wins" over default_process_types (Heroku, Process
// Types and the Procfile).
func (d *Descriptor) classicRelease(ctx context.Context, bpDir, appDir string, env *launch.Env, out *buildOutput) (*ClassicRelease, error) {
	rel := &ClassicRelease{ConfigVars: map[string]string{}}
	releasePath := filepath.Join(bpDir, "bin", "release")
	if fi, err := os.Stat(releasePath); err == nil && !fi.IsDir() {
		var stdout bytes.Buffer
		cmd := exec.CommandContext(ctx, releasePath, appDir)
		cmd.Dir = appDir
		cmd.Env = env.List()
		cmd.Stdout = &limitedBuffer{b: &stdout, max: maxReleaseOutput}
		cmd.Stderr = out
		runErr := cmd.Run()
		out.finish()
		if runErr != nil {
			var ee *exec.ExitError
			if errors.As(runErr, &ee) && ctx.Err() == nil {
				return nil, &BuildError{Ref: d.Ref(), Step: "bin/release", ExitCode: ee.ExitCode(), Tail: out.tailLines(), Err: runErr}
			}
			return nil, fmt.Errorf("run bin/release of buildpack %s: %w", d.Ref(), runErr)
		}
		if rel, err = ParseClassicRelease(stdout.Bytes(), "output of bin/release of buildpack "+d.Ref()); err != nil {
			return nil, err
		}
	}
	procPath := filepath.Join(appDir, "Procfile")
	if _, err := os.Stat(procPath); err == nil {
		entries, err := procfile.Parse(procPath)
		if err != nil {
			return nil, fmt.Errorf("buildpack %s: %w", d.Ref(), err)
		}
		byType := map[string]string{}
		for _, p := range rel.Processes {
			byType[p.Type] = p.Command
		}
		for _, e := range entries {
			byType[e.Type] = e.Command
		}
		rel.Processes = rel.Processes[:0]
		for t, c := range byType {
			rel.Processes = append(rel.Processes, ClassicProcess{Type: t, Command: c})
		}
		sort.Slice(rel.Processes, func(i, j int) bool { return rel.Processes[i].Type < rel.Processes[j].Type })
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("buildpack %s: %w", d.Ref(), err)
	}
	return rel, nil
}

// classicLaunchTOML is launch.toml in the Buildpack API 0.8 form: string commands run by
// bash, as Heroku runs process types.
type classicLaunchTOML struct {
	Processes []classicLaunchProcess `toml:"processes"`
}

type classicLaunchProcess struct {
	Type    string `toml:"type"`
	Command string `toml:"command"`
	Default bool   `toml:"default,omitempty"`
}

// writeClassicRelease writes the release's processes as launch.toml and its config vars as
// the launch layer config-vars (env.launch/<NAME>.default).
// web is the default process, as it is the one Heroku routes to; a lone process of the
// group's only buildpack is the obvious default too.
func writeClassicRelease(bpLayersDir string, rel *ClassicRelease, alone bool) error {
	if len(rel.ConfigVars) > 0 {
		envDir := filepath.Join(bpLayersDir, classicConfigLayer, "env.launch")
		for k, v := range rel.ConfigVars {
			if err := writeEnvFile(envDir, k+".default", v); err != nil {
				return fmt.Errorf("write config var %s: %w", k, err)
			}
		}
		if err := writeLayerTypes(bpLayersDir, classicConfigLayer, LayerTypes{Launch: true}); err != nil {
			return err
		}
	}
	if len(rel.Processes) == 0 {
		return nil
	}
	def := ""
	for _, p := range rel.Processes {
		if p.Type == "web" {
			def = "web"
		}
	}
	if def == "" && alone && len(rel.Processes) == 1 {
		def = rel.Processes[0].Type
	}
	var lt classicLaunchTOML
	for _, p := range rel.Processes {
		lt.Processes = append(lt.Processes, classicLaunchProcess{Type: p.Type, Command: p.Command, Default: p.Type == def})
	}
	return tomlfile.Write(filepath.Join(bpLayersDir, "launch.toml"), lt)
}
