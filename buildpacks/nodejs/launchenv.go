package nodejs

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// layerEnv holds the launch environment the user set at build time with BPE_* variables.
const layerEnv = "env"

// contributeLaunchEnv writes BPE_<NAME> (override), BPE_OVERRIDE_<NAME>, BPE_DEFAULT_<NAME>,
// BPE_APPEND_<NAME>, BPE_PREPEND_<NAME> and BPE_DELIM_<NAME> — the names Paketo's
// environment-variables buildpack reads — as launch env files (buildpack.md, Environment
// Variable Modification Rules). The layer is dropped when none is set.
func contributeLaunchEnv(bc sdk.BuildContext) error {
	vars := map[string]string{}
	if ents, err := os.ReadDir(filepath.Join(bc.PlatformDir, "env")); err == nil {
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), "BPE_") {
				vars[e.Name()] = bc.Env.Config(bc.PlatformDir, e.Name(), "")
			}
		}
	}
	for k, v := range bc.Env {
		if strings.HasPrefix(k, "BPE_") {
			vars[k] = v
		}
	}
	lay, err := bc.Layers.Get(layerEnv)
	if err != nil {
		return err
	}
	if len(vars) == 0 {
		return os.RemoveAll(lay.Path)
	}
	files := map[string]string{}
	var names []string
	for k, v := range vars {
		name, suffix := strings.TrimPrefix(k, "BPE_"), "override"
		for _, op := range []string{"OVERRIDE", "DEFAULT", "APPEND", "PREPEND", "DELIM"} {
			if rest, ok := strings.CutPrefix(name, op+"_"); ok {
				name, suffix = rest, strings.ToLower(op)
				break
			}
		}
		if name == "" {
			return fmt.Errorf("%s: name the variable after the prefix, e.g. BPE_DEFAULT_LOG_LEVEL=info", k)
		}
		files[name+"."+suffix] = v
		names = append(names, name+"."+suffix)
	}
	// Appending or prepending without a delimiter joins with the path separator, as a
	// PATH-like list is the usual use.
	for f := range files {
		if n, ok := strings.CutSuffix(f, ".append"); ok && files[n+".delim"] == "" {
			files[n+".delim"] = ":"
		}
		if n, ok := strings.CutSuffix(f, ".prepend"); ok && files[n+".delim"] == "" {
			files[n+".delim"] = ":"
		}
	}
	if err := os.RemoveAll(filepath.Join(lay.Path, "env.launch")); err != nil {
		return err
	}
	for f, v := range files {
		if err := sdk.WriteFileAtomic(filepath.Join(lay.Path, "env.launch", f), []byte(v), 0o644); err != nil {
			return err
		}
	}
	sort.Strings(names)
	bc.Log.Step("Launch environment from BPE_*: %s", strings.Join(names, ", "))
	lay.Types = sdk.LayerTypes{Launch: true}
	return lay.Write()
}

// imageLabels parses BP_IMAGE_LABELS (Paketo's image-labels buildpack): space-separated
// key=value pairs, values optionally in single or double quotes.
func imageLabels(s string) ([]sdk.Label, error) {
	var out []sdk.Label
	i := 0
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n') {
			i++
		}
		if i >= len(s) {
			return out, nil
		}
		eq := strings.IndexByte(s[i:], '=')
		if eq <= 0 {
			return nil, fmt.Errorf("BP_IMAGE_LABELS=%q: expected key=value pairs separated by spaces, e.g. org.opencontainers.image.source=https://example.com team=\"web ops\"", s)
		}
		key := s[i : i+eq]
		if strings.ContainsAny(key, " \t\"'") {
			return nil, fmt.Errorf("BP_IMAGE_LABELS=%q: label key %q contains a space or quote", s, key)
		}
		i += eq + 1
		var val string
		if i < len(s) && (s[i] == '"' || s[i] == '\'') {
			q := s[i]
			end := strings.IndexByte(s[i+1:], q)
			if end < 0 {
				return nil, fmt.Errorf("BP_IMAGE_LABELS=%q: unterminated quote in the value of %s", s, key)
			}
			val = s[i+1 : i+1+end]
			i += end + 2
		} else {
			end := strings.IndexAny(s[i:], " \t\n")
			if end < 0 {
				end = len(s) - i
			}
			val = s[i : i+end]
			i += end
		}
		out = append(out, sdk.Label{Key: key, Value: val})
	}
}
