package procfile

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// Entry is one Procfile line.
type Entry struct {
	Type, Command string
}

var line = regexp.MustCompile(`^([A-Za-z0-9._-]+):\s*(.+)$`)

// Parse reads a Procfile: blank lines and # comments are skipped; any other line must be
// "<type>: <command>" with a type valid for launch.toml (buildpack.md, launch.toml (TOML)).
func Parse(path string) ([]Entry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var out []Entry
	seen := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		m := line.FindStringSubmatch(l)
		if m == nil {
			return nil, fmt.Errorf("parse %s: line %d: %q is not \"<type>: <command>\" (type of letters, digits, '.', '_', '-')", path, n, l)
		}
		if m[1] == "." || m[1] == ".." {
			// It would become /cnb/process/.. in the image.
			return nil, fmt.Errorf("parse %s: line %d: process type %q cannot be a file name; rename it", path, n, m[1])
		}
		if prev, ok := seen[m[1]]; ok {
			return nil, fmt.Errorf("parse %s: line %d: process type %q already defined on line %d", path, n, m[1], prev)
		}
		seen[m[1]] = n
		out = append(out, Entry{Type: m[1], Command: strings.TrimSpace(m[2])})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("parse %s: no processes; add a line such as \"web: node server.js\"", path)
	}
	return out, nil
}

// Detect passes when the app has a Procfile; it needs nothing from other buildpacks, so it
// works alone or after a language buildpack.
func Detect(_ context.Context, dc sdk.DetectContext) (sdk.DetectResult, error) {
	if _, err := os.Stat(filepath.Join(dc.AppDir, "Procfile")); err != nil {
		return sdk.Fail("slipway/procfile: no Procfile in the app directory"), nil
	}
	return sdk.Pass(sdk.BuildPlan{}), nil
}

// Build turns the Procfile into processes. Commands run through sh -c so they may use shell
// syntax ($PORT, &&); web is the default process, or the only process when there is one.
func Build(_ context.Context, bc sdk.BuildContext) (sdk.BuildResult, error) {
	bc.Log.Title("Slipway Procfile buildpack")
	entries, err := Parse(filepath.Join(bc.AppDir, "Procfile"))
	if err != nil {
		return sdk.BuildResult{}, err
	}
	hasWeb := false
	for _, e := range entries {
		hasWeb = hasWeb || e.Type == "web"
	}
	var res sdk.BuildResult
	for _, e := range entries {
		def := e.Type == "web" || (!hasWeb && len(entries) == 1)
		bc.Log.Step("Process %s: %s", e.Type, e.Command)
		res.Launch.Processes = append(res.Launch.Processes, sdk.Process{
			Type: e.Type, Command: []string{"sh", "-c", e.Command}, Default: def,
		})
	}
	return res, nil
}
