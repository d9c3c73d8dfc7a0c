package python

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slipway/slipway/debian"
	"github.com/slipway/slipway/internal/e2ekit"
	"github.com/slipway/slipway/internal/pypiindex"
)

// pyFixture is one package index for all Python tests: wheels rebuilt from Debian's
// python3-* packages (Flask and its dependencies, gunicorn) and one written by the test.
var pyFixture struct {
	once   sync.Once
	idx    *pypiindex.Index
	wheels map[string]pypiindex.Wheel // normalized name → wheel
}

var flaskDebs = []string{"python3-flask", "python3-werkzeug", "python3-jinja2", "python3-markupsafe", "python3-itsdangerous", "python3-click", "python3-blinker", "python3-gunicorn", "python3-setuptools-whl"}

func pythonIndex(t *testing.T) (*pypiindex.Index, map[string]pypiindex.Wheel) {
	t.Helper()
	pyFixture.once.Do(func() {
		debs := pypiindex.DebianPackages(t, flaskDebs...)
		pyFixture.idx = pypiindex.New()
		pyFixture.wheels = map[string]pypiindex.Wheel{}
		for _, name := range flaskDebs {
			// gunicorn 20 imports pkg_resources: upstream requires setuptools, which
			// Debian's egg-info dropped.
			var reqs []string
			if name == "python3-gunicorn" {
				reqs = []string{"setuptools>=3.0"}
			}
			w := pypiindex.FromDebian(t, debs[name], reqs...)
			pyFixture.idx.Add(w)
			pyFixture.wheels[pypiindex.Normalize(w.Name)] = w
		}
		greet, err := pypiindex.Make(pypiindex.Spec{Name: "slipway-greeting", Version: "1.0.0",
			Files: map[string]string{"slipway_greeting/__init__.py": "def greet(who):\n    return f'greetings, {who}'\n"}})
		if err != nil {
			t.Fatal(err)
		}
		pyFixture.idx.Add(greet)
		pyFixture.wheels["slipway-greeting"] = greet
	})
	if pyFixture.idx == nil {
		t.Fatal("python index fixture failed in an earlier test")
	}
	return pyFixture.idx, pyFixture.wheels
}

// pythonBuilder is the default builder's Python group on the default stack.
func pythonBuilder(t *testing.T) string {
	return e2ekit.OurBuilder(t, "slipway/build:bookworm", "slipway/run:bookworm", false, "slipway/apt", "slipway/python")
}

// debianCache is a build cache shared by the tests that run on the Debian CPython without
// testing its installation, so it is installed once for them: each restores the cpython
// layer and, its lock inputs differing, makes its own venv. e must have ShareWork.
func debianCache(e *e2ekit.Env) string { return filepath.Join(e.Work, "python-debian-cache") }

// requirements pins the given projects to the versions of the index, as pip freeze would.
func requirements(wheels map[string]pypiindex.Wheel, names ...string) string {
	var lines []string
	for _, n := range names {
		w := wheels[n]
		lines = append(lines, w.Name+"=="+w.Version)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

// httpGet runs the image's web process in a container and fetches / with the image's
// own python, then runs the shell commands more (in the launch environment); it returns
// what the page and more printed.
func httpGet(t *testing.T, archive, image string, more ...string) string {
	t.Helper()
	return e2ekit.PodmanLaunch(t, archive, image, "bash", "-c",
		`/cnb/process/web & pid=$!; rc=1; for i in $(seq 1 60); do sleep 0.5; if python -c "import os,urllib.request; print(urllib.request.urlopen('http://127.0.0.1:'+os.environ['PORT']+'/').read().decode())" 2>/dev/null; then rc=0; break; fi; done; kill $pid; `+strings.Join(append(more, "exit $rc"), "; "))
}

func diffIDsChanged(a, b []string) []int {
	var changed []int
	for i := range a {
		if i >= len(b) || a[i] != b[i] {
			changed = append(changed, i)
		}
	}
	return changed
}

// stdlibCheck imports the standard library modules that link libraries beyond the run
// image's (ssl: libssl, sqlite3: libsqlite3, ctypes: libffi, pyexpat: libexpat, curses and
// readline: ncurses, dbm.ndbm: libdb, crypt: libcrypt, uuid: libuuid), uses a few, and
// prints one line; python -c gets it in single quotes.
const stdlibCheck = `import ssl, sqlite3, ctypes, zlib, bz2, lzma, hashlib, uuid, decimal, json, readline, curses, dbm.ndbm, crypt, zoneinfo, xml.etree.ElementTree as ET
ctx = ssl.create_default_context()
print("stdlib ok: sqlite", sqlite3.connect(":memory:").execute("select sqlite_version()").fetchone()[0], "ctypes", ctypes.CDLL(None).abs(-3), "expat", ET.fromstring("<a>x</a>").text, "tls", ctx.verify_mode.name, "zoneinfo", zoneinfo.ZoneInfo("Europe/Berlin").key, "lzma", len(lzma.compress(bz2.compress(zlib.compress(b"x")))) > 0, uuid.uuid4().version)`

const flaskApp = `import sys
from flask import Flask
from slipway_greeting import greet

app = Flask(__name__)


@app.route("/")
def index():
    return f"{greet('flask')} on python {sys.version.split()[0]}"
`

// The main Python flow: a Flask app with requirements.txt builds with no
// configuration but the index URL, runs under gunicorn (a dependency) with the Debian
// CPython, answers HTTP; editing a source file rebuilds without contacting the index and
// changes only the app layer.
func TestPythonFlaskGunicorn(t *testing.T) {
	e := e2ekit.DefaultStackEnv(t).ShareWork()
	idx, wheels := pythonIndex(t)
	builder := pythonBuilder(t)
	appDir := filepath.Join(t.TempDir(), "flask")
	e2ekit.WriteFile(t, filepath.Join(appDir, "app.py"), flaskApp)
	e2ekit.WriteFile(t, filepath.Join(appDir, "requirements.txt"), requirements(wheels, "flask", "werkzeug", "jinja2", "markupsafe", "itsdangerous", "click", "gunicorn", "slipway-greeting"))
	args := []string{"build", "flask", "--path", appDir, "--builder", builder, "--network", "host", "--env", "PIP_INDEX_URL=" + idx.URL}

	start := time.Now()
	out := e.MustSlipway(args...)
	t.Logf("cold build: %s", time.Since(start).Round(time.Millisecond))
	for _, want := range []string{"CPython 3.11.", "source debian", "Installed CPython", "Installing dependencies with pip", "Process web: gunicorn app:app", "Successfully built image flask"} {
		if !strings.Contains(out, want) {
			t.Errorf("build output lacks %q:\n%s", want, out)
		}
	}
	first := e2ekit.ImageLayers(t, e.Store, "flask")
	archive := filepath.Join(t.TempDir(), "flask.tar")
	e.MustSlipway("save", "flask", "-o", archive)
	// Also: bytecode was compiled at build (the app's and the dependencies'), the run image
	// has no Python of its own, the index is not configured in the image, the standard
	// library modules that need libraries the run image lacks import, and what only the
	// build needs (pip, its wheel, the tools layer) is not in the image.
	got := httpGet(t, archive, "localhost/flask",
		`ls /workspace/__pycache__`, `echo "flask bytecode: $(ls $VIRTUAL_ENV/lib/python3.11/site-packages/flask/__pycache__/*.cpython-311.pyc | wc -l)"`,
		`command -v python`, `ls /usr/bin/python3* 2>/dev/null | wc -l`, `echo "PYTHONUNBUFFERED=$PYTHONUNBUFFERED PIP_INDEX_URL=${PIP_INDEX_URL:-unset}"`,
		`python -c '`+stdlibCheck+`' 2>&1`,
		`python -m pip --version 2>&1 | tail -1`, `echo "layers: $(ls /layers/slipway_python | tr '\n' ' ')"`)
	for _, want := range []string{"greetings, flask on python 3.11.", "app.cpython-311.pyc", "/layers/slipway_python/venv/bin/python", "\n0\n", "PYTHONUNBUFFERED=1 PIP_INDEX_URL=unset",
		"stdlib ok: sqlite 3.", "ctypes 3 expat x tls CERT_REQUIRED zoneinfo Europe/Berlin", "No module named pip"} {
		if !strings.Contains(got, want) {
			t.Errorf("image check lacks %q:\n%s", want, got)
		}
	}
	if !regexp.MustCompile(`flask bytecode: [1-9]`).MatchString(got) {
		t.Errorf("no bytecode of flask in the venv:\n%s", got)
	}
	if layers := regexp.MustCompile(`layers: .*`).FindString(got); !strings.Contains(layers, "cpython") || strings.Contains(layers, "pip-whl") || strings.Contains(layers, "tools") {
		t.Errorf("launch layers: %q, want cpython and venv, not the build's pip-whl and tools", layers)
	}

	before := idx.Requests()
	e2ekit.WriteFile(t, filepath.Join(appDir, "app.py"), strings.Replace(flaskApp, "on python", "(edited) on python", 1))
	start = time.Now()
	out = e.MustSlipway(args...)
	t.Logf("rebuild after a source edit: %s", time.Since(start).Round(time.Millisecond))
	if n := idx.Requests() - before; n != 0 {
		t.Errorf("the rebuild made %d requests to the index", n)
	}
	for _, want := range []string{"Reusing CPython 3.11.", "Reusing the virtual environment"} {
		if !strings.Contains(out, want) {
			t.Errorf("rebuild output lacks %q:\n%s", want, out)
		}
	}
	second := e2ekit.ImageLayers(t, e.Store, "flask")
	if len(first) != len(second) {
		t.Fatalf("layer count %d → %d", len(first), len(second))
	}
	if changed := diffIDsChanged(first, second); len(changed) != 1 {
		t.Errorf("changed layers %v of %d; want exactly the app layer", changed, len(first))
	}
}

// standaloneServer serves a python-build-standalone mirror on 127.0.0.1: release "good"
// holds a CPython made by repackaging Debian's python3.11 into that layout
// (python/bin, python/lib/python3.11 with ensurepip's bundled pip); release "bad" lists a
// wrong SHA256 for the same file. Like a real install_only build it brings what the run
// image lacks: the libraries its extension modules link (which the real builds link
// statically) are in python/lib; the nis module is left out (its libnsl and libtirpc pull
// in Kerberos).
func standaloneServer(t *testing.T) (url string, version string, requests *atomic.Int64) {
	t.Helper()
	standaloneFixture.once.Do(func() {
		standaloneFixture.url, standaloneFixture.version, standaloneFixture.requests = makeStandaloneServer(t)
	})
	if standaloneFixture.requests == nil {
		t.Fatal("standalone mirror fixture failed in an earlier test")
	}
	return standaloneFixture.url, standaloneFixture.version, standaloneFixture.requests
}

// standaloneFixture is the mirror, made once (repacking the standard library takes a
// while) and served until the tests end.
var standaloneFixture struct {
	once         sync.Once
	url, version string
	requests     *atomic.Int64
}

func makeStandaloneServer(t *testing.T) (url string, version string, requests *atomic.Int64) {
	t.Helper()
	libDebs := []string{"libexpat1", "libffi8", "libsqlite3-0", "libuuid1", "libcrypt1", "libncursesw6", "libreadline8", "libdb5.3"}
	names := append([]string{"python3.11-minimal", "libpython3.11-minimal", "libpython3.11-stdlib", "python3-pip-whl"}, libDebs...)
	debs := pypiindex.DebianPackages(t, names...)
	root := t.TempDir()
	r, err := os.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	var pyVersion string
	for _, name := range names {
		f, err := os.Open(debs[name])
		if err != nil {
			t.Fatal(err)
		}
		d, err := debian.Extract(t.Context(), f, r, name, debian.ExtractOptions{})
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if name == "python3.11-minimal" {
			pyVersion = strings.SplitN(d.Control.Get("Version"), "-", 2)[0]
		}
	}
	r.Close()
	var tgz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&tgz, gzip.BestSpeed) // made on every run: fast over small
	tw := tar.NewWriter(zw)
	add := func(name string, mode int64, body []byte, link string) {
		h := &tar.Header{Name: name, Mode: mode, Size: int64(len(body)), Typeflag: tar.TypeReg}
		if link != "" {
			h = &tar.Header{Name: name, Mode: 0o777, Typeflag: tar.TypeSymlink, Linkname: link}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
	}
	py, _ := os.ReadFile(filepath.Join(root, "usr/bin/python3.11"))
	add("python/bin/python3.11", 0o755, py, "")
	add("python/bin/python3", 0, nil, "python3.11")
	add("python/bin/python", 0, nil, "python3.11")
	// Some library packages still ship /lib/… (the merged-/usr link is not in this
	// scratch root).
	libs, _ := filepath.Glob(filepath.Join(root, "lib/x86_64-linux-gnu/*.so*"))
	libs2, _ := filepath.Glob(filepath.Join(root, "usr/lib/x86_64-linux-gnu/*.so*"))
	libs = append(libs, libs2...)
	if len(libs) < len(libDebs) {
		t.Fatalf("libraries %v from %v", libs, libDebs)
	}
	for _, l := range libs {
		if target, err := os.Readlink(l); err == nil {
			add("python/lib/"+filepath.Base(l), 0, nil, target)
		} else {
			b, _ := os.ReadFile(l)
			add("python/lib/"+filepath.Base(l), 0o644, b, "")
		}
	}
	stdlib := filepath.Join(root, "usr/lib/python3.11")
	filepath.WalkDir(stdlib, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err // directories come with their files; absolute symlinks into /etc are left out
		}
		rel, _ := filepath.Rel(stdlib, p)
		if strings.HasPrefix(rel, "lib-dynload/nis.") {
			return nil
		}
		b, _ := os.ReadFile(p)
		add("python/lib/python3.11/"+rel, 0o644, b, "")
		return nil
	})
	wheels, _ := filepath.Glob(filepath.Join(root, "usr/share/python-wheels/pip-*.whl"))
	b, _ := os.ReadFile(wheels[0])
	add("python/lib/python3.11/ensurepip/_bundled/"+filepath.Base(wheels[0]), 0o644, b, "")
	tw.Close()
	zw.Close()

	sum := sha256.Sum256(tgz.Bytes())
	requests = &atomic.Int64{}
	mux := http.NewServeMux()
	for release, hash := range map[string]string{"good": hex.EncodeToString(sum[:]), "bad": strings.Repeat("0", 64)} {
		file := fmt.Sprintf("cpython-%s+%s-x86_64-unknown-linux-gnu-install_only.tar.gz", pyVersion, release)
		mux.HandleFunc("/"+release+"/SHA256SUMS", func(w http.ResponseWriter, r *http.Request) {
			requests.Add(1)
			fmt.Fprintf(w, "%s  %s\n%s  cpython-%s+%s-aarch64-unknown-linux-gnu-install_only.tar.gz\n", hash, file, strings.Repeat("1", 64), pyVersion, release)
		})
		mux.HandleFunc("/"+release+"/"+file, func(w http.ResponseWriter, r *http.Request) {
			requests.Add(1)
			w.Write(tgz.Bytes())
		})
	}
	srv := httptest.NewServer(mux)
	return srv.URL, pyVersion, requests
}

const noDepsApp = `import http.server, os, sys


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"no dependencies, python {sys.version.split()[0]} at {sys.prefix}".encode()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body)


http.server.HTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
`

// An app with no dependencies on the Debian CPython (the default source): no venv, the
// process is python on its main file, and the interpreter runs from the cpython layer.
func TestPythonNoDependencies(t *testing.T) {
	e := e2ekit.DefaultStackEnv(t).ShareWork()
	builder := pythonBuilder(t)
	plain := filepath.Join(t.TempDir(), "plain")
	e2ekit.WriteFile(t, filepath.Join(plain, "main.py"), noDepsApp)
	e2ekit.WriteFile(t, filepath.Join(plain, ".python-version"), "3.11\n")
	out := e.MustSlipway("build", "nodeps", "--path", plain, "--builder", builder, "--cache-dir", debianCache(e))
	for _, want := range []string{`from .python-version "3.11", source debian`, "no dependencies to install", "Process web: python main.py"} {
		if !strings.Contains(out, want) {
			t.Errorf("build output lacks %q:\n%s", want, out)
		}
	}
	archive := filepath.Join(t.TempDir(), "nodeps.tar")
	e.MustSlipway("save", "nodeps", "-o", archive)
	if got := httpGet(t, archive, "localhost/nodeps"); !strings.Contains(got, "no dependencies, python 3.11") || !strings.Contains(got, "/layers/slipway_python/cpython/usr") {
		t.Errorf("debian app answered %q", got)
	}
}

// An app with a requirements.txt on a python-build-standalone CPython from a mirror on
// 127.0.0.1 (SHA256SUMS checked before extraction) answers HTTP from its image, with the
// interpreter and the venv in their layers; a rebuild reuses the runtime without
// downloading it again.
func TestPythonStandalone(t *testing.T) {
	e := e2ekit.DefaultStackEnv(t).ShareWork()
	idx, wheels := pythonIndex(t)
	builder := pythonBuilder(t)
	mirror, pyVersion, saRequests := standaloneServer(t)
	app := filepath.Join(t.TempDir(), "standalone")
	e2ekit.WriteFile(t, filepath.Join(app, "main.py"), strings.Replace(noDepsApp, "import http.server, os, sys", "import http.server, os, sys\nimport itsdangerous", 1))
	e2ekit.WriteFile(t, filepath.Join(app, "requirements.txt"), requirements(wheels, "itsdangerous"))
	args := []string{"build", "standalone", "--path", app, "--builder", builder, "--network", "host",
		"--env", "BP_CPYTHON_SOURCE=standalone", "--env", "BP_CPYTHON_STANDALONE_MIRROR=" + mirror, "--env", "BP_CPYTHON_STANDALONE_RELEASE=good",
		"--env", "PIP_INDEX_URL=" + idx.URL}
	out := e.MustSlipway(args...)
	e2ekit.MustContain(t, out, "CPython "+pyVersion+" (from default (the newest available)", "source standalone", "Installed CPython", "Installing dependencies with pip", "Process web: python main.py")
	archive := filepath.Join(t.TempDir(), "standalone.tar")
	e.MustSlipway("save", "standalone", "-o", archive)
	got := httpGet(t, archive, "localhost/standalone", "command -v python", `python -c "import sys; print(sys.base_prefix)"`)
	e2ekit.MustContain(t, got, "no dependencies, python "+pyVersion+" at /layers/slipway_python/venv", "/layers/slipway_python/venv/bin/python", "\n/layers/slipway_python/cpython\n")

	before := saRequests.Load()
	out = e.MustSlipway(args...)
	e2ekit.MustContain(t, out, "Reusing CPython "+pyVersion, "Reusing the virtual environment")
	// The rebuild lists the release (SHA256SUMS) but does not download the tarball.
	if n := saRequests.Load() - before; n != 1 {
		t.Errorf("the rebuild made %d requests to the mirror; want 1 (SHA256SUMS)", n)
	}
}

// Every bad input of the issue gets a clear error naming the file, index or source.
func TestPythonBadInput(t *testing.T) {
	e := e2ekit.DefaultStackEnv(t).ShareWork()
	idx, wheels := pythonIndex(t)
	builder := pythonBuilder(t)
	mirror, pyVersion, saRequests := standaloneServer(t)
	cache := debianCache(e)

	build := func(t *testing.T, name string, files map[string]string, env ...string) string {
		t.Helper()
		dir := filepath.Join(t.TempDir(), name)
		for f, c := range files {
			e2ekit.WriteFile(t, filepath.Join(dir, f), c)
		}
		args := []string{"build", name, "--path", dir, "--builder", builder, "--network", "host", "--cache-dir", cache, "--env", "PIP_INDEX_URL=" + idx.URL, "--env", "PIP_RETRIES=0"}
		for _, kv := range env {
			args = append(args, "--env", kv)
		}
		out, code := e.Slipway(args...)
		if code == 0 {
			t.Fatalf("build %s succeeded:\n%s", name, out)
		}
		return out
	}
	expect := func(t *testing.T, out string, wants ...string) {
		t.Helper()
		for _, w := range wants {
			if !strings.Contains(out, w) {
				t.Errorf("output lacks %q:\n%s", w, out)
			}
		}
	}
	t.Run("requirements.txt syntax error: pip names file and line", func(t *testing.T) {
		out := build(t, "badreq", map[string]string{"requirements.txt": "itsdangerous\nflask=2.2.2\n", "main.py": "print(1)\n"})
		expect(t, out, "Invalid requirement", "line 2", "requirements.txt")
	})
	t.Run("pyproject.toml syntax error: file and line", func(t *testing.T) {
		out := build(t, "badpyproject", map[string]string{"pyproject.toml": "[project]\nname = \"x\"\nrequires-python = >=3.10\n", "main.py": "print(1)\n"})
		expect(t, out, "pyproject.toml: line 3")
	})
	t.Run("package the index lacks: pip's message and the index URL", func(t *testing.T) {
		out := build(t, "missingpkg", map[string]string{"requirements.txt": "no-such-package-slipway==1.0\n", "main.py": "print(1)\n"})
		expect(t, out, "No matching distribution found for no-such-package-slipway", "index "+idx.URL)
	})
	t.Run("index answers 500: the URL and the status", func(t *testing.T) {
		idx.FailWith(500)
		defer idx.FailWith(0)
		out := build(t, "index500", map[string]string{"requirements.txt": requirements(wheels, "itsdangerous"), "main.py": "print(1)\n"})
		expect(t, out, idx.URL+"/itsdangerous/", "500")
	})
	t.Run("version no source has: the versions of each source", func(t *testing.T) {
		out := build(t, "noversion", map[string]string{"main.py": "print(1)\n", "runtime.txt": "python-3.13.1\n"},
			"BP_CPYTHON_STANDALONE_MIRROR="+mirror, "BP_CPYTHON_STANDALONE_RELEASE=good")
		expect(t, out, `no CPython matches "3.13.1" (from runtime.txt)`, "debian offers 3.11.", "standalone offers "+pyVersion)
	})
	t.Run("checksum mismatch of a runtime download: refused, nothing extracted", func(t *testing.T) {
		before := saRequests.Load()
		out := build(t, "badsum", map[string]string{"main.py": "print(1)\n", ".python-version": "3.11\n"},
			"BP_CPYTHON_SOURCE=standalone", "BP_CPYTHON_STANDALONE_MIRROR="+mirror, "BP_CPYTHON_STANDALONE_RELEASE=bad")
		expect(t, out, "checksum mismatch", "cpython-"+pyVersion+"+bad-x86_64-unknown-linux-gnu-install_only.tar.gz", "refusing")
		if strings.Contains(out, "Installed CPython") || saRequests.Load()-before != 2 {
			t.Errorf("after a mismatch: %d requests; output:\n%s", saRequests.Load()-before, out)
		}
	})
}

// pipenvTools publishes pipenv and what it needs, rebuilt from Debian's packages (whose
// egg-info lost the base requirements: they are put back as upstream declares them).
var pipenvOnce sync.Once

func pipenvIndex(t *testing.T) (*pypiindex.Index, map[string]pypiindex.Wheel, string) {
	t.Helper()
	idx, wheels := pythonIndex(t)
	var version string
	pipenvOnce.Do(func() {
		reqs := map[string][]string{
			"pipenv":             {"certifi", "setuptools>=36.2.1", "virtualenv-clone>=0.2.5", "virtualenv"},
			"python3-virtualenv": {"distlib<1,>=0.3.6", "filelock<4,>=3.4.1", "platformdirs<3,>=2.4"},
		}
		names := []string{"pipenv", "python3-virtualenv", "python3-virtualenv-clone", "python3-certifi", "python3-distlib", "python3-filelock", "python3-platformdirs"}
		debs := pypiindex.DebianPackages(t, names...)
		for _, n := range names {
			w := pypiindex.FromDebian(t, debs[n], reqs[n]...)
			idx.Add(w)
			wheels[pypiindex.Normalize(w.Name)] = w
		}
	})
	version = wheels["pipenv"].Version
	if version == "" {
		t.Fatal("pipenv fixture failed in an earlier test")
	}
	return idx, wheels, version
}

// pipfileHash is Pipenv's hash of a Pipfile (the one its lock records): sha256 of the
// parsed Pipfile as compact JSON with sorted keys.
func pipfileHash(t *testing.T, packages map[string]string) string {
	t.Helper()
	data := map[string]any{
		"_meta":   map[string]any{"sources": []any{map[string]any{"name": "pypi", "url": "https://pypi.org/simple", "verify_ssl": true}}, "requires": map[string]any{"python_version": "3.11"}},
		"default": packages,
		"develop": map[string]any{},
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(data); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(bytes.TrimSpace(b.Bytes()))
	return hex.EncodeToString(sum[:])
}

// A Pipenv app: Pipfile.lock installed with --deploy from the index (the Pipfile names
// PyPI; the mirror comes from PIP_INDEX_URL), answers HTTP; a Pipfile.lock out of date
// with its Pipfile fails with Pipenv's message.
func TestPythonPipenv(t *testing.T) {
	e := e2ekit.DefaultStackEnv(t).ShareWork()
	idx, wheels, pipenvVersion := pipenvIndex(t)
	builder := pythonBuilder(t)
	it := wheels["itsdangerous"]
	pkgs := map[string]string{"itsdangerous": "==" + it.Version}
	pipfile := "[[source]]\nurl = \"https://pypi.org/simple\"\nverify_ssl = true\nname = \"pypi\"\n\n[packages]\nitsdangerous = \"==" + it.Version + "\"\n\n[dev-packages]\n\n[requires]\npython_version = \"3.11\"\n"
	lock := fmt.Sprintf(`{
    "_meta": {
        "hash": {"sha256": %q},
        "pipfile-spec": 6,
        "requires": {"python_version": "3.11"},
        "sources": [{"name": "pypi", "url": "https://pypi.org/simple", "verify_ssl": true}]
    },
    "default": {
        "itsdangerous": {"hashes": [%q], "index": "pypi", "version": "==%s"}
    },
    "develop": {}
}
`, pipfileHash(t, pkgs), it.Hash(), it.Version)
	appDir := filepath.Join(t.TempDir(), "pipenv")
	e2ekit.WriteFile(t, filepath.Join(appDir, "Pipfile"), pipfile)
	e2ekit.WriteFile(t, filepath.Join(appDir, "Pipfile.lock"), lock)
	e2ekit.WriteFile(t, filepath.Join(appDir, "main.py"), strings.Replace(noDepsApp, `body = f"no dependencies`, `import itsdangerous
        body = f"pipenv app, {itsdangerous.__name__}`, 1))
	args := []string{"build", "pipenv", "--path", appDir, "--builder", builder, "--network", "host", "--cache-dir", debianCache(e),
		"--env", "PIP_INDEX_URL=" + idx.URL, "--env", "BP_PIPENV_VERSION=" + pipenvVersion}
	out := e.MustSlipway(args...)
	for _, want := range []string{"Installing dependencies with pipenv", "installing pipenv " + pipenvVersion} {
		if !strings.Contains(out, want) {
			t.Errorf("build output lacks %q:\n%s", want, out)
		}
	}
	archive := filepath.Join(t.TempDir(), "pipenv.tar")
	e.MustSlipway("save", "pipenv", "-o", archive)
	if got := httpGet(t, archive, "localhost/pipenv"); !strings.Contains(got, "pipenv app, itsdangerous") {
		t.Errorf("pipenv app answered %q", got)
	}

	e2ekit.WriteFile(t, filepath.Join(appDir, "Pipfile"), strings.Replace(pipfile, "[packages]\n", "[packages]\nclick = \"*\"\n", 1))
	out, code := e.Slipway(args...)
	if code == 0 || !strings.Contains(out, "out of date") || !strings.Contains(out, "Pipfile.lock") {
		t.Errorf("exit %d; want Pipenv's out-of-date message:\n%s", code, out)
	}
}

// poetryFixture is an index of its own for the Poetry test: Poetry and everything it
// needs, rebuilt from Debian's python3-poetry and its python3-* dependencies (their
// requirements follow Debian's Depends), plus the app's packages.
var poetryFixture struct {
	once   sync.Once
	idx    *pypiindex.Index
	poetry string // version
}

func poetryIndex(t *testing.T) (*pypiindex.Index, string) {
	t.Helper()
	_, wheels := pythonIndex(t)
	poetryFixture.once.Do(func() {
		// secretstorage would bring cryptography (a C extension needing OpenSSL); keyring
		// works without it (no Secret Service backend, which a build has no use for).
		tree := pypiindex.DebianTree(t, []string{"python3-poetry"}, "python3-secretstorage")
		// Debian's virtualenv lists its seed wheels from /usr/share/python-wheels when
		// imported (poetry imports it); upstream's carries them. Poetry here never makes a
		// virtualenv, so an empty list does.
		venv, err := tree["python3-virtualenv"].Patched("virtualenv/seed/wheels/embed/__init__.py",
			"for fn in os.listdir(BUNDLE_FOLDER)]", "for fn in (os.listdir(BUNDLE_FOLDER) if BUNDLE_FOLDER.is_dir() else [])]")
		if err != nil {
			t.Fatal(err)
		}
		tree["python3-virtualenv"] = venv
		idx := pypiindex.New()
		for _, w := range tree {
			idx.Add(w)
		}
		idx.Add(wheels["itsdangerous"], wheels["slipway-greeting"])
		poetryFixture.idx, poetryFixture.poetry = idx, tree["python3-poetry"].Version
	})
	if poetryFixture.idx == nil {
		t.Fatal("poetry index fixture failed in an earlier test")
	}
	return poetryFixture.idx, poetryFixture.poetry
}

// pyJSON is Python's json.dumps(v, sort_keys=True) for the values a pyproject.toml holds
// (Poetry hashes its relevant part that way into poetry.lock's content-hash).
func pyJSON(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return fmt.Sprint(v)
	case string:
		b, _ := json.Marshal(v)
		return string(b)
	case []any:
		var parts []string
		for _, e := range v {
			parts = append(parts, pyJSON(e))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		var keys []string
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, pyJSON(k)+": "+pyJSON(v[k]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	panic(fmt.Sprintf("pyJSON: %T", v))
}

// A Poetry app: pyproject.toml + poetry.lock (a main and a dev group, packages from a
// source the pyproject names) installed into the venv layer without the dev group by the
// Poetry the buildpack installs from the index; it answers HTTP, and Poetry itself is not
// in the image.
func TestPythonPoetry(t *testing.T) {
	e := e2ekit.DefaultStackEnv(t).ShareWork()
	idx, poetryVersion := poetryIndex(t)
	_, wheels := pythonIndex(t)
	builder := pythonBuilder(t)
	it, greet := wheels["itsdangerous"], wheels["slipway-greeting"]
	pyproject := fmt.Sprintf(`[tool.poetry]
name = "poetry-app"
version = "0.1.0"
description = "A Poetry app"
authors = ["Slipway <dev@example.com>"]

[tool.poetry.dependencies]
python = "^3.11"
itsdangerous = %[1]q

[tool.poetry.group.dev.dependencies]
slipway-greeting = %[2]q

[[tool.poetry.source]]
name = "internal"
url = %[3]q
default = true

[build-system]
requires = ["poetry-core"]
build-backend = "poetry.core.masonry.api"
`, it.Version, greet.Version, idx.URL)
	relevant := map[string]any{
		"dependencies":     map[string]any{"python": "^3.11", "itsdangerous": it.Version},
		"dev-dependencies": nil,
		"extras":           nil,
		"group":            map[string]any{"dev": map[string]any{"dependencies": map[string]any{"slipway-greeting": greet.Version}}},
		"source":           []any{map[string]any{"name": "internal", "url": idx.URL, "default": true}},
	}
	sum := sha256.Sum256([]byte(pyJSON(relevant)))
	pkg := func(w pypiindex.Wheel, category string) string {
		return fmt.Sprintf(`[[package]]
name = %q
version = %q
description = ""
category = %q
optional = false
python-versions = "*"
files = [
    {file = %q, hash = %q},
]

[package.source]
type = "legacy"
url = %q
reference = "internal"

`, pypiindex.Normalize(w.Name), w.Version, category, w.File, w.Hash(), idx.URL)
	}
	lock := "# This file is automatically @generated by Poetry and should not be changed by hand.\n\n" +
		pkg(it, "main") + pkg(greet, "dev") +
		fmt.Sprintf("[metadata]\nlock-version = \"2.0\"\npython-versions = \"^3.11\"\ncontent-hash = %q\n", hex.EncodeToString(sum[:]))
	appDir := filepath.Join(t.TempDir(), "poetry")
	e2ekit.WriteFile(t, filepath.Join(appDir, "pyproject.toml"), pyproject)
	e2ekit.WriteFile(t, filepath.Join(appDir, "poetry.lock"), lock)
	e2ekit.WriteFile(t, filepath.Join(appDir, "main.py"), strings.Replace(noDepsApp, `body = f"no dependencies`, `import itsdangerous
        body = f"poetry app, {itsdangerous.__name__}`, 1))
	out := e.MustSlipway("build", "poetry", "--path", appDir, "--builder", builder, "--network", "host", "--cache-dir", debianCache(e),
		"--env", "PIP_INDEX_URL="+idx.URL, "--env", "BP_POETRY_VERSION="+poetryVersion)
	e2ekit.MustContain(t, out, `from pyproject.toml [tool.poetry.dependencies] python "^3.11"`, "installing poetry "+poetryVersion,
		"Installing dependencies with poetry", "Installing itsdangerous ("+it.Version+")", "Process web: python main.py")
	if strings.Contains(out, "not consistent") || strings.Contains(out, "slipway-greeting") {
		t.Errorf("poetry found the lock stale or installed the dev group:\n%s", out)
	}
	archive := filepath.Join(t.TempDir(), "poetry.tar")
	e.MustSlipway("save", "poetry", "-o", archive)
	got := httpGet(t, archive, "localhost/poetry",
		`python -c "import slipway_greeting" 2>&1 | tail -1`, `command -v poetry || echo "no poetry"`)
	e2ekit.MustContain(t, got, "poetry app, itsdangerous", "No module named 'slipway_greeting'", "no poetry")
}

// A pip.conf from a service binding gives pip a private index's URL with credentials:
// the build installs from it, and the credentials are in no layer of the image, nor in
// its config.
func TestPythonPipConfBinding(t *testing.T) {
	e := e2ekit.DefaultStackEnv(t).ShareWork()
	_, wheels := pythonIndex(t)
	builder := pythonBuilder(t)
	const user, password = "ci-reader", "s3cret-pip-token-5f1e"
	private := pypiindex.Start(t)
	private.Add(wheels["itsdangerous"])
	private.RequireAuth(user, password)
	binding := filepath.Join(t.TempDir(), "pip-binding")
	e2ekit.WriteFile(t, filepath.Join(binding, "type"), "pip\n")
	e2ekit.WriteFile(t, filepath.Join(binding, "pip.conf"), fmt.Sprintf("[global]\nindex-url = http://%s:%s@%s/simple\n", user, password, private.Host()))
	appDir := filepath.Join(t.TempDir(), "pipconf")
	e2ekit.WriteFile(t, filepath.Join(appDir, "requirements.txt"), requirements(wheels, "itsdangerous"))
	e2ekit.WriteFile(t, filepath.Join(appDir, "main.py"), strings.Replace(noDepsApp, `body = f"no dependencies`, `import itsdangerous
        body = f"private index, {itsdangerous.__name__}`, 1))
	out := e.MustSlipway("build", "pipconf", "--path", appDir, "--builder", builder, "--network", "host", "--cache-dir", debianCache(e), "--binding", "pip="+binding)
	e2ekit.MustContain(t, out, "Using pip.conf from binding pip", "Installing dependencies with pip")
	if private.Authorized() == 0 {
		t.Errorf("the private index saw no authorized request")
	}
	if strings.Contains(out, password) {
		t.Errorf("the build output shows the password:\n%s", out)
	}
	if found := e2ekit.ImageHolds(t, e2ekit.StoredImage(t, e.Store, "pipconf"), password); found != "" {
		t.Errorf("the image holds the password")
	}
	archive := filepath.Join(t.TempDir(), "pipconf.tar")
	e.MustSlipway("save", "pipconf", "-o", archive)
	got := httpGet(t, archive, "localhost/pipconf", `echo "PIP_CONFIG_FILE=${PIP_CONFIG_FILE:-unset}"`)
	e2ekit.MustContain(t, got, "private index, itsdangerous", "PIP_CONFIG_FILE=unset")
}
