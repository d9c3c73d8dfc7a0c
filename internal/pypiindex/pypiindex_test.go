package pypiindex

import (
	"archive/zip"
	"bytes"
	"io"
	"net/http"
	"sort"
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

func TestRequireAuth(t *testing.T) {
	idx := Start(t)
	idx.RequireAuth("ci", "s3cret")
	base := strings.TrimSuffix(idx.URL, "/simple")
	for _, c := range []struct {
		name, user, pass string
		want             int
	}{{"none", "", "", 401}, {"wrong", "ci", "nope", 401}, {"right", "ci", "s3cret", 200}} {
		req, _ := http.NewRequest(http.MethodGet, base+"/simple/", nil)
		if c.user != "" {
			req.SetBasicAuth(c.user, c.pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s: status %d, want %d", c.name, resp.StatusCode, c.want)
		}
	}
	if idx.Authorized() != 1 {
		t.Errorf("authorized requests %d", idx.Authorized())
	}
}

func TestWithRequires(t *testing.T) {
	w, err := Make(Spec{Name: "tool", Version: "1.0", Files: map[string]string{"tool/__init__.py": "", "tool-1.0.dist-info/LICENSE": "x"},
		Metadata: "Metadata-Version: 2.1\nName: tool\nVersion: 1.0\nRequires-Dist: dulwich (<0.21)\n\nA tool.\n", EntryPoints: "[console_scripts]\ntool = tool:main\n"})
	if err != nil {
		t.Fatal(err)
	}
	w2, err := w.WithRequires([]string{"dulwich", "pylev"})
	if err != nil {
		t.Fatal(err)
	}
	zr, _ := zip.NewReader(bytes.NewReader(w2.Data), int64(len(w2.Data)))
	files := map[string]string{}
	for _, f := range zr.File {
		r, _ := f.Open()
		b, _ := io.ReadAll(r)
		files[f.Name] = string(b)
	}
	if m := files["tool-1.0.dist-info/METADATA"]; m != "Metadata-Version: 2.1\nName: tool\nVersion: 1.0\nRequires-Dist: dulwich\nRequires-Dist: pylev\n\nA tool.\n" {
		t.Errorf("METADATA:\n%s", m)
	}
	if _, ok := files["tool/__init__.py"]; !ok || files["tool-1.0.dist-info/entry_points.txt"] == "" || w2.File != w.File {
		t.Errorf("wheel %s entries %v", w2.File, files)
	}
	if strings.Count(files["tool-1.0.dist-info/RECORD"], "\n") != len(files) {
		t.Errorf("RECORD does not list every file:\n%s", files["tool-1.0.dist-info/RECORD"])
	}
}

func TestDebianTree(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads Debian packages")
	}
	ws := DebianTree(t, []string{"python3-cleo"})
	var names []string
	for n, w := range ws {
		names = append(names, n+"="+w.Name)
	}
	sort.Strings(names)
	// Debian's cleo imports pylev where upstream's uses rapidfuzz: the requirements follow Debian.
	if got := strings.Join(names, " "); got != "python3-cleo=cleo python3-crashtest=crashtest python3-pylev=pylev" {
		t.Fatalf("tree %s", got)
	}
	zr, _ := zip.NewReader(bytes.NewReader(ws["python3-cleo"].Data), int64(len(ws["python3-cleo"].Data)))
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, ".dist-info/METADATA") {
			r, _ := f.Open()
			b, _ := io.ReadAll(r)
			head, _, _ := strings.Cut(string(b), "\n\n")
			if !strings.Contains(head, "Requires-Dist: crashtest\nRequires-Dist: pylev") || strings.Contains(head, "rapidfuzz") {
				t.Errorf("cleo METADATA head:\n%s", head)
			}
		}
	}
}
