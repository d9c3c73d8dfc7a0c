package pypiindex

import (
	"archive/zip"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestIndexServesWheels(t *testing.T) {
	idx := Start(t)
	w, err := Make(Spec{Name: "Greet_Lib", Version: "1.0", Files: map[string]string{"greet/__init__.py": "x = 1\n"}, Requires: []string{"other>=1"}})
	if err != nil {
		t.Fatal(err)
	}
	idx.Add(w)
	get := func(path string) (int, string) {
		resp, err := http.Get(strings.TrimSuffix(idx.URL, "/simple") + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/simple/greet-lib/"); code != 200 || !strings.Contains(body, w.File+"#sha256=") {
		t.Fatalf("project page %d %s", code, body)
	}
	code, body := get("/files/" + w.File)
	if code != 200 {
		t.Fatal(code)
	}
	zr, err := zip.NewReader(bytes.NewReader([]byte(body)), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	if !strings.Contains(strings.Join(names, " "), "Greet_Lib-1.0.dist-info/RECORD") {
		t.Errorf("wheel entries %v", names)
	}
	if idx.Requests() != 2 {
		t.Errorf("requests %d", idx.Requests())
	}
	idx.FailWith(500)
	if code, _ := get("/simple/greet-lib/"); code != 500 {
		t.Errorf("injected failure: %d", code)
	}
	again, _ := Make(Spec{Name: "Greet_Lib", Version: "1.0", Files: map[string]string{"greet/__init__.py": "x = 1\n"}, Requires: []string{"other>=1"}})
	if !bytes.Equal(again.Data, w.Data) {
		t.Error("the same spec gave different wheel bytes")
	}
}

func TestFromDebian(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads Debian packages")
	}
	debs := DebianPackages(t, "python3-flask", "python3-gunicorn")
	flask := FromDebian(t, debs["python3-flask"])
	if !strings.EqualFold(flask.Name, "flask") || !strings.Contains(flask.File, "-py3-none-any.whl") {
		t.Errorf("flask wheel %s %s %s", flask.Name, flask.Version, flask.File)
	}
	zr, _ := zip.NewReader(bytes.NewReader(flask.Data), int64(len(flask.Data)))
	var meta string
	var hasApp bool
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, ".dist-info/METADATA") {
			r, _ := f.Open()
			b, _ := io.ReadAll(r)
			meta = string(b)
		}
		hasApp = hasApp || f.Name == "flask/app.py"
	}
	// Debian keeps extras but drops the base requirements from requires.txt.
	if !strings.Contains(meta, "Name: Flask\n") || !strings.Contains(meta, `Requires-Dist: asgiref>=3.2; extra == "async"`) || !hasApp {
		t.Errorf("flask wheel: app.py %v, METADATA:\n%.2000s", hasApp, meta)
	}
	g := FromDebian(t, debs["python3-gunicorn"])
	if g.Name != "gunicorn" {
		t.Errorf("gunicorn wheel named %q", g.Name)
	}
}
