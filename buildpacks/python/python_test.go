package python

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway/slipway/buildpacks/sdk"
)

func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRequirementMatching(t *testing.T) {
	avail := []Version{{3, 9, 18}, {3, 11, 2}, {3, 11, 9}, {3, 12, 4}}
	cases := []struct {
		req, want string
	}{
		{"3.11", "3.11.9"},
		{"3.11.2", "3.11.2"},
		{">=3.9,<3.12", "3.11.9"},
		{"~=3.11.0", "3.11.9"},
		{"~=3.9", "3.12.4"},
		{"==3.11.*", "3.11.9"},
		{"!=3.12.4", "3.11.9"},
		{"^3.9", "3.12.4"},
		{"~3.9", "3.9.18"},
		{"*", "3.12.4"},
		{"3.13", ""},
	}
	for _, tc := range cases {
		t.Run(tc.req, func(t *testing.T) {
			r, err := ParseRequirement(tc.req, "test")
			if err != nil {
				t.Fatal(err)
			}
			v, ok := r.Newest(avail)
			got := ""
			if ok {
				got = v.String()
			}
			if got != tc.want {
				t.Errorf("%q → %q, want %q", tc.req, got, tc.want)
			}
		})
	}
	if _, err := ParseRequirement(">=three", "pyproject.toml requires-python"); err == nil || !strings.Contains(err.Error(), "pyproject.toml") {
		t.Errorf("bad constraint: %v", err)
	}
}

func TestFindRequirement(t *testing.T) {
	cases := []struct {
		name    string
		files   map[string]string
		env     string
		want    string
		wantErr string
	}{
		{"env wins", map[string]string{".python-version": "3.10\n"}, "3.11", "BP_CPYTHON_VERSION", ""},
		{".python-version", map[string]string{".python-version": "# pyenv\n3.11\n", "runtime.txt": "python-3.9.1"}, "", ".python-version", ""},
		{"runtime.txt", map[string]string{"runtime.txt": "python-3.11.9\n"}, "", "runtime.txt", ""},
		{"runtime.txt malformed", map[string]string{"runtime.txt": "3.11.9\n"}, "", "", "runtime.txt:1"},
		{"Pipfile", map[string]string{"Pipfile": "[requires]\npython_version = \"3.11\"\n"}, "", "Pipfile python_version", ""},
		{"requires-python", map[string]string{"pyproject.toml": "[project]\nname = \"x\"\nrequires-python = \">=3.10\"\n"}, "", "pyproject.toml requires-python", ""},
		{"poetry python", map[string]string{"pyproject.toml": "[tool.poetry.dependencies]\npython = \"^3.11\"\n"}, "", "pyproject.toml [tool.poetry.dependencies] python", ""},
		{"pyproject syntax error: file and line", map[string]string{"pyproject.toml": "[project]\nname = \"x\"\nrequires-python = >=3.10\n"}, "", "", "pyproject.toml: line 3"},
		{"nothing", nil, "", "default (the newest available)", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, tc.files)
			r, err := FindRequirement(dir, tc.env)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || r.Source != tc.want {
				t.Fatalf("source %q err %v, want %q", r.Source, err, tc.want)
			}
		})
	}
}

func TestDetect(t *testing.T) {
	cases := []struct {
		name   string
		files  map[string]string
		pass   bool
		reason string
	}{
		{"requirements.txt", map[string]string{"requirements.txt": ""}, true, ""},
		{"pyproject", map[string]string{"pyproject.toml": ""}, true, ""},
		{"uv.lock", map[string]string{"uv.lock": ""}, true, ""},
		{"py with Procfile running python", map[string]string{"bot.py": "", "Procfile": "worker: python bot.py\n"}, true, ""},
		{"py without marker", map[string]string{"bot.py": ""}, false, "found bot.py"},
		{"nothing", map[string]string{"index.js": ""}, false, "none of requirements.txt"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, tc.files)
			res, err := Detect(context.Background(), sdk.DetectContext{AppDir: dir})
			if err != nil || res.Pass != tc.pass || !strings.Contains(res.Reason, tc.reason) {
				t.Fatalf("pass %v reason %q err %v", res.Pass, res.Reason, err)
			}
		})
	}
}

func TestWebProcess(t *testing.T) {
	venv := t.TempDir()
	write(t, venv, map[string]string{"bin/gunicorn": "", "bin/uvicorn": ""})
	cases := []struct {
		name  string
		files map[string]string
		venv  string
		want  string
	}{
		{"gunicorn app.py", map[string]string{"app.py": "from flask import Flask\napp = Flask(__name__)\n"}, venv, "gunicorn app:app"},
		{"gunicorn wsgi application", map[string]string{"wsgi.py": "application = make()\n", "main.py": ""}, venv, "gunicorn wsgi:application"},
		{"uvicorn fastapi main", map[string]string{"main.py": "from fastapi import FastAPI\napp: FastAPI = FastAPI()\n"}, venv, "main:app"},
		{"no server: python main file", map[string]string{"main.py": "print(1)\n"}, "", "python main.py"},
		{"single file", map[string]string{"server.py": "print(1)\n"}, "", "python server.py"},
		{"nothing", map[string]string{"a.py": "", "b.py": ""}, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, tc.files)
			p, why := webProcess(dir, tc.venv)
			got := ""
			if p != nil {
				got = strings.Join(p.Command, " ")
			}
			if (tc.want == "") != (p == nil) || !strings.Contains(got, tc.want) {
				t.Errorf("got %q (%s), want %q", got, why, tc.want)
			}
		})
	}
}

func TestChooseTool(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		env   string
		want  string
	}{
		{"uv", map[string]string{"uv.lock": "", "pyproject.toml": "", "requirements.txt": ""}, "", "uv"},
		{"poetry", map[string]string{"poetry.lock": "", "pyproject.toml": ""}, "", "poetry"},
		{"pipenv", map[string]string{"Pipfile": ""}, "", "pipenv"},
		{"pip", map[string]string{"requirements.txt": ""}, "", "pip"},
		{"pip project", map[string]string{"pyproject.toml": ""}, "", "pip ."},
		{"BP_PIP_REQUIREMENT", map[string]string{"requirements/prod.txt": ""}, "requirements/prod.txt", "pip"},
		{"none", map[string]string{"main.py": ""}, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, tc.files)
			tool, err := ChooseTool(dir, tc.env)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if tool != nil {
				got = tool.Name
				if tool.Project {
					got += " ."
				}
			}
			if got != tc.want {
				t.Errorf("got %q want %q", got, tc.want)
			}
		})
	}
	if _, err := ChooseTool(t.TempDir(), "missing.txt"); err == nil || !strings.Contains(err.Error(), "BP_PIP_REQUIREMENT") {
		t.Errorf("missing BP_PIP_REQUIREMENT file: %v", err)
	}
}

func TestProbeIndexNamesAFailingIndex(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/simple/flask/" {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	dir := t.TempDir()
	write(t, dir, map[string]string{"requirements.txt": "# pinned\n--require-hashes\nFlask==2.2.2\n"})
	env := sdk.Environ{"PIP_INDEX_URL": srv.URL + "/simple"}
	if got := probeIndex(context.Background(), env, dir, []string{"requirements.txt"}); got != srv.URL+"/simple/flask/ answered 500 Internal Server Error" {
		t.Errorf("probe = %q", got)
	}
	write(t, dir, map[string]string{"requirements.txt": "missing-one==1\n"})
	if got := probeIndex(context.Background(), env, dir, []string{"requirements.txt"}); got != "" {
		t.Errorf("a 404 (package not on the index) is pip's to explain, got %q", got)
	}
}
