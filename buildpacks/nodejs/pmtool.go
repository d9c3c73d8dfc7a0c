package nodejs

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// layerPM holds yarn classic or pnpm when they come straight from the npm registry rather
// than through corepack; needed at build only.
const layerPM = "package-manager"

// toolChoice is how yarn or pnpm is provided: through corepack (packageManager pins it and
// the Node.js version runs corepack) or as the registry's own package, verified by its
// dist.integrity (or the hash packageManager pins).
type toolChoice struct {
	Corepack   bool
	Constraint string // version range for the registry package
	Pinned     *sdk.Checksum
	Why        string // for the log
	// CorepackFailed is the packageManager value corepack could not provide; kept in the
	// layer metadata so a rebuild goes straight to the registry package (corepackOrRegistry).
	CorepackFailed string
}

// packageManagerField parses package.json "packageManager": "yarn@1.22.22+sha512.<hex>".
var packageManagerField = regexp.MustCompile(`^(yarn|pnpm|npm)@([^+\s]+)(?:\+(sha\d+)\.([0-9a-fA-F]+))?$`)

// chooseTool decides how yarn classic and pnpm are installed. yarn classic never goes
// through corepack: corepack verifies downloads against npm's signing keys, and yarn 1.22
// is signed only with a key that expired in 2023, so a yarn.lock app without any
// configuration would fail. pnpm goes through corepack only when packageManager pins it
// and corepack can be used: noCorepack is "" then, else why not (for the log).
func chooseTool(pm PackageManager, pkg *PackageJSON, lockfile []byte, noCorepack string) (toolChoice, error) {
	m := packageManagerField.FindStringSubmatch(strings.TrimSpace(pkg.PackageManager))
	pinned := m != nil && m[1] == pm.Name
	if pm.Name == "pnpm" && pinned && noCorepack == "" {
		return toolChoice{Corepack: true, Why: "packageManager " + pkg.PackageManager + ", through corepack"}, nil
	}
	c := toolChoice{}
	switch {
	case pinned:
		c.Constraint, c.Why = m[2], "packageManager "+m[1]+"@"+m[2]
		if m[3] == "sha512" || m[3] == "sha256" {
			sum, err := hex.DecodeString(m[4])
			if err != nil {
				return c, fmt.Errorf("package.json packageManager %q: hash is not hex", pkg.PackageManager)
			}
			c.Pinned = &sdk.Checksum{Algorithm: m[3], Sum: sum}
		}
	case strings.TrimSpace(pkg.Engines[pm.Name]) != "":
		c.Constraint, c.Why = pkg.Engines[pm.Name], "engines."+pm.Name+" "+pkg.Engines[pm.Name]
	case pm.Name == "yarn":
		c.Constraint, c.Why = "1.x", "yarn.lock v1 (yarn classic)"
	default:
		c.Constraint, c.Why = "*", "newest"
	}
	if pm.Name == "pnpm" && !pinned {
		// The lockfile format says which pnpm majors wrote it; within engines.pnpm, take the
		// newest of those so a new major does not rewrite (and reject) the lockfile.
		if r := pnpmForLockfile(lockfile); r != "" {
			if c.Constraint == "*" {
				c.Constraint, c.Why = r, "pnpm-lock.yaml "+r
			} else {
				c.Constraint, c.Why = "("+c.Constraint+") ("+r+")", c.Why+", pnpm-lock.yaml "+r
			}
		}
	}
	if pinned && pm.Name == "pnpm" {
		c.Why += ", from the npm registry because " + noCorepack
	} else {
		c.Why += ", from the npm registry"
	}
	return c, nil
}

var pnpmLockfileVersion = regexp.MustCompile(`(?m)^lockfileVersion:\s*'?"?([0-9.]+)`)

// pnpmForLockfile maps pnpm-lock.yaml's lockfileVersion to the pnpm releases that write it.
func pnpmForLockfile(lockfile []byte) string {
	m := pnpmLockfileVersion.FindSubmatch(lockfile)
	if m == nil {
		return ""
	}
	switch v := string(m[1]); {
	case strings.HasPrefix(v, "9."):
		return ">=9 <11"
	case strings.HasPrefix(v, "6."):
		return "8.x"
	case strings.HasPrefix(v, "5.4"):
		return "7.x"
	case strings.HasPrefix(v, "5."):
		return "6.x"
	}
	return ""
}

// semverAnd intersects two constraints given as "(a) (b)": Masterminds/semver has no
// parentheses, so it is checked as two constraints.
func parseConstraints(s string) ([]*semver.Constraints, error) {
	var out []*semver.Constraints
	parts := []string{s}
	if strings.HasPrefix(s, "(") && strings.HasSuffix(s, ")") && strings.Contains(s, ") (") {
		parts = strings.Split(strings.TrimSuffix(strings.TrimPrefix(s, "("), ")"), ") (")
	}
	for _, p := range parts {
		if p == "*" || p == "latest" {
			continue
		}
		c, err := semver.NewConstraint(p)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// installPMTool installs yarn classic or pnpm from the npm registry into the
// package-manager layer (reused while the chosen version is unchanged) and returns the
// layer's bin directory and the version.
func installPMTool(ctx context.Context, bc sdk.BuildContext, reg registry, name string, choice toolChoice, node *semver.Version, tmp string) (string, string, error) {
	cs, err := parseConstraints(choice.Constraint)
	if err != nil {
		return "", "", fmt.Errorf("parse %s version %q (%s): %w", name, choice.Constraint, choice.Why, err)
	}
	p, err := reg.packument(ctx, name)
	if err != nil {
		return "", "", err
	}
	pv, ok := p.newestMatchingAll(cs, node)
	if !ok {
		return "", "", fmt.Errorf("no %s version in %s matches %q (%s) and supports Node.js %s; change the range or BP_NODE_VERSION", name, reg.base, choice.Constraint, choice.Why, node)
	}
	lay, err := bc.Layers.Get(layerPM)
	if err != nil {
		return "", "", err
	}
	bin := filepath.Join(lay.Path, "bin")
	want := map[string]any{"name": name, "version": pv.Version}
	if choice.CorepackFailed != "" {
		want["corepack-failed"] = choice.CorepackFailed
	}
	if lay.MetadataMatches(want) && exists(filepath.Join(bin, name)) {
		bc.Log.Step("Reusing %s %s (%s)", name, pv.Version, choice.Why)
	} else {
		if err := lay.Reset(); err != nil {
			return "", "", err
		}
		dest := filepath.Join(lay.Path, "lib", "node_modules", name)
		if choice.Pinned != nil {
			// packageManager's hash pins the tarball itself, as corepack would check it.
			pv.Dist.Integrity = choice.Pinned.Algorithm + "-" + b64(choice.Pinned.Sum)
		}
		if _, err := installPackage(ctx, reg, name, pv, dest, tmp); err != nil {
			return "", "", err
		}
		for cmd, target := range pv.bins(name) {
			link := filepath.Join(bin, cmd)
			if err := os.MkdirAll(bin, 0o755); err != nil {
				return "", "", err
			}
			if err := os.Symlink(filepath.Join("..", "lib", "node_modules", name, filepath.Clean(target)), link); err != nil {
				return "", "", fmt.Errorf("link %s: %w", link, err)
			}
			os.Chmod(filepath.Join(dest, filepath.Clean(target)), 0o755)
		}
		if !exists(filepath.Join(bin, name)) {
			return "", "", fmt.Errorf("%s@%s from %s has no %q command", name, pv.Version, reg.base, name)
		}
		bc.Log.Step("Installed %s %s (%s, integrity verified)", name, pv.Version, choice.Why)
	}
	lay.Metadata = want
	lay.Types = sdk.LayerTypes{Build: true, Cache: true}
	if err := lay.Write(); err != nil {
		return "", "", err
	}
	return bin, pv.Version, nil
}

// corepackMismatch marks corepack failures where a download contradicts its signature or
// pinned hash: those fail the build, they are never answered by another source.
var corepackMismatch = []string{"Signature does not match", "Mismatch hashes"}

// corepackOrRegistry makes corepack fetch and verify the pnpm that packageManager pins
// ("corepack pnpm --version" in the app directory, so the install that follows needs no
// download). When corepack cannot — the registry's metadata has no signature it trusts
// (mirrors often drop dist.signatures, and corepack releases before npm's 2025 key rotation
// trust only the retired key), or the download fails — pnpm is installed from the same
// registry instead, verified by its dist.integrity or packageManager's hash, as yarn classic
// always is; the returned bin directory then goes first in PATH and pm no longer uses
// corepack. The fallback is remembered in the package-manager layer, so a rebuild with the
// same packageManager does not ask corepack again.
func corepackOrRegistry(ctx context.Context, bc sdk.BuildContext, reg registry, pm *PackageManager, pkg *PackageJSON, dir string, node *semver.Version, env []string, tmp string) (string, error) {
	field := strings.TrimSpace(pkg.PackageManager)
	lay, err := bc.Layers.Get(layerPM)
	if err != nil {
		return "", err
	}
	why := ""
	if lay.Metadata["corepack-failed"] == field {
		why = "corepack could not provide it in an earlier build"
	} else {
		err := runCommand(ctx, dir, env, io.Discard, pm.command("--version")...)
		if err == nil {
			return "", nil
		}
		var ce *CommandError
		if !errors.As(err, &ce) {
			return "", err
		}
		reason := corepackReason(ce.Tail)
		for _, m := range corepackMismatch {
			if strings.Contains(reason, m) {
				return "", fmt.Errorf("corepack refused %s from %s: %s; the registry served a package that does not match its signature or the hash in package.json packageManager — check the registry (BP_NPM_REGISTRY) or the packageManager field", field, reg.base, reason)
			}
		}
		why = "corepack could not verify or fetch it (" + reason + ")"
	}
	var lock []byte
	if pm.Lockfile != "" {
		lock, _ = os.ReadFile(filepath.Join(dir, pm.Lockfile))
	}
	choice, err := chooseTool(*pm, pkg, lock, why)
	if err != nil {
		return "", err
	}
	choice.CorepackFailed = field
	bin, _, err := installPMTool(ctx, bc, reg, pm.Name, choice, node, tmp)
	if err != nil {
		return "", err
	}
	pm.Corepack = false
	return bin, nil
}

// corepackReason is the line of corepack's output that says what went wrong ("Error: …").
func corepackReason(tail []string) string {
	for i := len(tail) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(tail[i]); strings.HasPrefix(l, "Error: ") || strings.HasPrefix(l, "UsageError: ") || strings.HasPrefix(l, "Internal Error: ") {
			return strings.TrimPrefix(l, "Error: ")
		}
	}
	for i := len(tail) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(tail[i]); l != "" && !strings.HasPrefix(l, "Node.js v") {
			return l
		}
	}
	return "no output"
}
