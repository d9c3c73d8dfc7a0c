package python

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// Tool is how the app's dependencies are installed.
type Tool struct {
	Name string // pip, pipenv, poetry, uv
	// Inputs are the files whose content decides the installed set (the lock inputs).
	Inputs []string
	// Requirements are requirement files for pip.
	Requirements []string
	// Project means `pip install .` (pyproject.toml / setup.py without requirements).
	Project bool
}

// ChooseTool picks the installer from the lockfile the app has, the way each tool's users
// expect: uv.lock → uv, poetry.lock → Poetry, Pipfile(.lock) → Pipenv, requirements
// files → pip, a pyproject.toml/setup.py project → pip install .; none → no dependencies.
func ChooseTool(appDir, requirement string) (*Tool, error) {
	has := func(f string) bool { return exists(filepath.Join(appDir, f)) }
	switch {
	case has("uv.lock"):
		return &Tool{Name: "uv", Inputs: []string{"uv.lock", "pyproject.toml"}}, nil
	case has("poetry.lock"):
		return &Tool{Name: "poetry", Inputs: []string{"poetry.lock", "pyproject.toml"}}, nil
	case has("Pipfile.lock"):
		return &Tool{Name: "pipenv", Inputs: []string{"Pipfile.lock", "Pipfile"}}, nil
	case has("Pipfile"):
		return &Tool{Name: "pipenv", Inputs: []string{"Pipfile"}}, nil
	}
	reqs := strings.Fields(requirement)
	if len(reqs) == 0 {
		reqs = []string{"requirements.txt"}
	}
	var found []string
	for _, r := range reqs {
		if has(r) {
			found = append(found, r)
		} else if requirement != "" {
			return nil, fmt.Errorf("BP_PIP_REQUIREMENT names %s, which is not in the app directory", r)
		}
	}
	if len(found) > 0 {
		return &Tool{Name: "pip", Inputs: found, Requirements: found}, nil
	}
	if has("pyproject.toml") || has("setup.py") {
		return &Tool{Name: "pip", Inputs: []string{"pyproject.toml", "setup.py", "setup.cfg"}, Project: true}, nil
	}
	return nil, nil
}

// inputsKey hashes the tool's lock inputs.
func (t *Tool) inputsKey(appDir string) (string, error) {
	h := sha256.New()
	for _, f := range t.Inputs {
		fmt.Fprintf(h, "%s\n", f)
		b, err := os.ReadFile(filepath.Join(appDir, f))
		if err != nil && !os.IsNotExist(err) {
			return "", fmt.Errorf("read %s: %w", f, err)
		}
		fmt.Fprintf(h, "%d\n", len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// installer runs the tools with the environment a build needs: pip's cache in the cache
// layer, reproducible bytecode, and whatever index configuration the user gave through
// the tools' own variables (PIP_INDEX_URL, UV_INDEX_URL, a pip.conf binding), which is
// passed through and never written into a layer.
type installer struct {
	bc     sdk.BuildContext
	env    []string
	out    io.Writer
	python string // the runtime's interpreter
}

func (in installer) run(ctx context.Context, dir string, args ...string) error {
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = in.env
	cmd.Stdout, cmd.Stderr = in.out, in.out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// indexURL is the index pip uses, for error messages.
func indexURL(env sdk.Environ) string {
	if v := env.Get("PIP_INDEX_URL"); v != "" {
		return v
	}
	return "https://pypi.org/simple (pip's default; set PIP_INDEX_URL for a mirror)"
}

// venv makes a virtual environment at dir with the runtime's python and, unless pipWheel
// is "", bootstraps pip into it from the runtime's own pip wheel (no network): `python
// pip.whl/pip install pip.whl` is pip's documented way to install itself.
func (in installer) venv(ctx context.Context, dir, pipWheel, pipVersion string) error {
	if err := in.run(ctx, in.bc.AppDir, in.python, "-m", "venv", "--without-pip", dir); err != nil {
		return fmt.Errorf("create virtual environment: %w", err)
	}
	if pipWheel == "" {
		return nil
	}
	vpy := filepath.Join(dir, "bin", "python")
	if err := in.run(ctx, in.bc.AppDir, vpy, filepath.Join(pipWheel, "pip"), "install", "--no-index", "--no-cache-dir", "--quiet", pipWheel); err != nil {
		return fmt.Errorf("install pip from %s: %w", filepath.Base(pipWheel), err)
	}
	if pipVersion != "" {
		if err := in.run(ctx, in.bc.AppDir, vpy, "-m", "pip", "install", "--quiet", "pip=="+pipVersion); err != nil {
			return fmt.Errorf("install pip %s (BP_PIP_VERSION) from %s: %w", pipVersion, indexURL(in.bc.Env), err)
		}
	}
	return nil
}

var reqName = regexp.MustCompile(`^\s*([A-Za-z0-9][A-Za-z0-9._-]*)`)

// probeIndex explains a failed install when the index itself is failing: pip reports an
// index error (a 500, say) only in its debug log, so ask the index for the first
// requirement's page and return "URL answered STATUS" when it is not 200 OK ("" else).
func probeIndex(ctx context.Context, env sdk.Environ, appDir string, files []string) string {
	base := env.Get("PIP_INDEX_URL")
	if base == "" {
		return ""
	}
	name := ""
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(appDir, f))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if m := reqName.FindStringSubmatch(line); m != nil && !strings.HasPrefix(strings.TrimSpace(line), "-") {
				name = m[1]
				break
			}
		}
		if name != "" {
			break
		}
	}
	u := strings.TrimSuffix(base, "/") + "/"
	if name != "" {
		u += strings.ToLower(regexp.MustCompile(`[-_.]+`).ReplaceAllString(name, "-")) + "/"
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return ""
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Sprintf("%s: %v", u, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNotFound {
		return fmt.Sprintf("%s answered %s", u, resp.Status)
	}
	return ""
}
