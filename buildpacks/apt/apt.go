package apt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
	"github.com/slipway/slipway/debian"
)

// Aptfile is a parsed Aptfile.
type Aptfile struct {
	Packages []string
	// Lines maps a package to its line, for errors.
	Lines map[string]int
	// Repos are the extra repositories of ":repo:" lines.
	Repos []debian.Source
}

// ParseAptfile reads the Aptfile format of the classic Aptfile buildpacks: one package
// per line, '#' comments and blank lines skipped, and ":repo:deb [signed-by=KEYRING]
// URL SUITE COMPONENT..." lines adding a repository (KEYRING relative to the app
// directory). Errors name the file and line.
func ParseAptfile(path, appDir string) (*Aptfile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	af := &Aptfile{Lines: map[string]int{}}
	for i, line := range strings.Split(string(b), "\n") {
		n := i + 1
		if c := strings.Index(line, "#"); c >= 0 {
			line = line[:c]
		}
		line = strings.TrimSpace(line)
		switch {
		case line == "":
		case strings.HasPrefix(line, ":repo:"):
			src, err := debian.ParseSourceLine(strings.TrimPrefix(line, ":repo:"), appDir, "")
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %w", path, n, err)
			}
			af.Repos = append(af.Repos, src)
		case strings.Contains(line, "://") || strings.HasSuffix(line, ".deb"):
			return nil, fmt.Errorf("%s:%d: %q: .deb files by URL are not supported (they cannot be verified against a signed index); add the repository with a \":repo:deb [signed-by=KEYRING] URL SUITE COMPONENT\" line and name the package", path, n, line)
		default:
			if strings.ContainsAny(line, " \t") {
				return nil, fmt.Errorf("%s:%d: %q: one package name per line", path, n, line)
			}
			if !validName(line) {
				return nil, fmt.Errorf("%s:%d: %q is not a Debian package name (lower-case letters, digits, '+', '-', '.')", path, n, line)
			}
			if _, dup := af.Lines[line]; !dup {
				af.Packages = append(af.Packages, line)
				af.Lines[line] = n
			}
		}
	}
	return af, nil
}

// validName follows Debian Policy 5.6.7: at least two characters, lower-case letters,
// digits, '+', '-', '.', starting with a letter or digit (so never read as an option).
func validName(s string) bool {
	if len(s) < 2 || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// Detect passes when the app has an Aptfile; it needs nothing and provides nothing, so
// it runs, optional, before any language buildpack (buildpack.md, Detection).
func Detect(_ context.Context, dc sdk.DetectContext) (sdk.DetectResult, error) {
	if _, err := os.Stat(filepath.Join(dc.AppDir, "Aptfile")); err != nil {
		return sdk.Fail("slipway/apt: no Aptfile in the app directory"), nil
	}
	return sdk.Pass(sdk.BuildPlan{}), nil
}

// Build installs the Aptfile's packages into the "packages" layer (build, launch and
// cache), skipping what the build and run images already have; the .debs stay in the
// "debs" cache layer.
func Build(ctx context.Context, bc sdk.BuildContext) (sdk.BuildResult, error) {
	log := bc.Log
	log.Title("Slipway Apt buildpack")
	path := filepath.Join(bc.AppDir, "Aptfile")
	af, err := ParseAptfile(path, bc.AppDir)
	if err != nil {
		return sdk.BuildResult{}, err
	}
	if len(af.Packages) == 0 {
		log.Step("Aptfile lists no packages")
		return sdk.BuildResult{}, nil
	}
	cache, err := bc.Layers.Get("debs")
	if err != nil {
		return sdk.BuildResult{}, err
	}
	cache.Types = sdk.LayerTypes{Cache: true}
	if err := cache.Write(); err != nil {
		return sdk.BuildResult{}, err
	}
	lay, err := bc.Layers.Get("packages")
	if err != nil {
		return sdk.BuildResult{}, err
	}
	log.Step("Installing %s (Aptfile) with their dependencies", strings.Join(af.Packages, ", "))
	apt := &sdk.Apt{Cache: cache, Log: log}
	res, err := apt.Install(ctx, lay, sdk.AptRequest{Packages: af.Packages, Launch: true, Build: true, Cache: true, Extra: af.Repos})
	if err != nil {
		var nf *sdk.AptNotFoundError
		if errors.As(err, &nf) {
			if n, ok := af.Lines[nf.Package]; ok {
				return sdk.BuildResult{}, fmt.Errorf("%s:%d: %w", path, n, err)
			}
		}
		return sdk.BuildResult{}, fmt.Errorf("%s: %w", path, err)
	}
	switch {
	case res.Reused:
		log.Step("Reusing layer packages (same packages and versions)")
	default:
		var names []string
		for _, p := range res.Packages {
			names = append(names, p.Name+" "+p.Version)
		}
		log.Step("Installed %d packages: %s", len(res.Packages), strings.Join(names, ", "))
	}
	if len(res.Skipped) > 0 {
		log.Detail("already in the build and run images: %s", strings.Join(res.Skipped, ", "))
	}
	return sdk.BuildResult{}, nil
}
