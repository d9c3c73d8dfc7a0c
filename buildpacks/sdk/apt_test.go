package sdk

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/slipway/slipway/debian"
	"github.com/slipway/slipway/debian/debiantest"
)

// aptImage is a build image root as `slipway stack build` leaves it: the record of the
// stack's sources (keyring copied in), the run image's packages, its own dpkg status.
func aptImage(t *testing.T, repo *debiantest.Repo, runStatus, buildStatus string) string {
	t.Helper()
	root := t.TempDir()
	key, err := os.ReadFile(repo.Keyring)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		debian.StackSourcesFile:              "deb [arch=amd64 signed-by=" + debian.StackKeyringDir + "/test.gpg] " + repo.URL + " " + debiantest.Suite + " main\n",
		debian.StackKeyringDir + "/test.gpg": string(key),
		debian.StackRunStatus:                runStatus,
		debian.DpkgStatusFile:                buildStatus,
		"/var/lib/dpkg/arch":                 "amd64\n",
	} {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func installed(names ...string) string {
	var b strings.Builder
	for _, n := range names {
		name, version, _ := strings.Cut(n, "=")
		b.WriteString("Package: " + name + "\nStatus: install ok installed\nVersion: " + version + "\n\n")
	}
	return b.String()
}

func TestAptInstall(t *testing.T) {
	repo := debiantest.New(t)
	repo.Add(debiantest.Deb{Name: "libc6", Version: "2.36", Files: map[string]string{"/lib/x86_64-linux-gnu/libc.so.6": "libc"}})
	repo.Add(debiantest.Deb{Name: "libonig5", Version: "6.9", Depends: "libc6", Files: map[string]string{"/usr/lib/x86_64-linux-gnu/libonig.so.5": "onig"}})
	repo.Add(debiantest.Deb{Name: "jq", Version: "1.6", Depends: "libonig5, libc6 (>= 2.34)", Files: map[string]string{
		"/usr/bin/jq": "#!/bin/sh\necho jq\n", "/usr/share/doc/jq/README": "x", "/usr/bin/jq-abs": "->/usr/bin/jq",
		"/usr/lib/x86_64-linux-gnu/pkgconfig/onig.pc": "prefix=/usr\nlibdir=${prefix}/lib\nName: onig\n",
		"/usr/include/jq.h":                           "int jq;",
		"/usr/lib/python3/dist-packages/jqmod.py":     "x = 1\n",
	}})
	repo.Publish(nil)

	// The run image has libc6; the build image has libc6 and libonig5.
	root := aptImage(t, repo, installed("libc6=2.36"), installed("libc6=2.36", "libonig5=6.9"))
	layers := Layers{Path: t.TempDir()}
	cache, err := layers.Get("apt-cache")
	if err != nil {
		t.Fatal(err)
	}
	apt := &Apt{Root: root, Cache: cache}

	t.Run("launch skips what the run image has", func(t *testing.T) {
		lay, _ := layers.Get("launch-only")
		res, err := apt.Install(t.Context(), lay, AptRequest{Packages: []string{"jq"}, Launch: true})
		if err != nil {
			t.Fatal(err)
		}
		if got := names(res.Packages); !slices.Equal(got, []string{"libonig5", "jq"}) {
			t.Errorf("installed %v, want libonig5 and jq (libc6 is in the run image)", got)
		}
	})

	t.Run("satisfied packages are not installed", func(t *testing.T) {
		lay, _ := layers.Get("beside")
		res, err := apt.Install(t.Context(), lay, AptRequest{Packages: []string{"jq"}, Launch: true, Satisfied: []string{"libonig5", "not-in-the-index"}})
		if err != nil {
			t.Fatal(err)
		}
		if got := names(res.Packages); !slices.Equal(got, []string{"jq"}) {
			t.Errorf("installed %v, want only jq (libonig5 is satisfied elsewhere)", got)
		}
	})

	lay, _ := layers.Get("tools")
	res, err := apt.Install(t.Context(), lay, AptRequest{Packages: []string{"jq"}, Launch: true, Build: true, Cache: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(res.Packages); !slices.Equal(got, []string{"libonig5", "jq"}) {
		t.Errorf("launch+build installed %v", got)
	}
	cases := []struct{ file, want string }{
		{"usr/bin/jq", "#!/bin/sh\necho jq\n"},
		{"env/PATH.prepend", filepath.Join(lay.Path, "usr/bin")},
		{"env/PATH.delim", ":"},
		{"env/LD_LIBRARY_PATH.prepend", filepath.Join(lay.Path, "usr/lib/x86_64-linux-gnu")},
		{"env.build/PKG_CONFIG_PATH.prepend", filepath.Join(lay.Path, "usr/lib/x86_64-linux-gnu/pkgconfig")},
		{"env.build/CPATH.prepend", filepath.Join(lay.Path, "usr/include")},
		{"env/PYTHONPATH.prepend", filepath.Join(lay.Path, "usr/lib/python3/dist-packages")},
		{"usr/lib/x86_64-linux-gnu/pkgconfig/onig.pc", "prefix=" + lay.Path + "/usr\nlibdir=${prefix}/lib\nName: onig\n"},
	}
	for _, c := range cases {
		b, err := os.ReadFile(filepath.Join(lay.Path, c.file))
		if err != nil || string(b) != c.want {
			t.Errorf("%s = %q, %v; want %q", c.file, b, err, c.want)
		}
	}
	if l, _ := os.Readlink(filepath.Join(lay.Path, "usr/bin/jq-abs")); l != filepath.Join(lay.Path, "usr/bin/jq") {
		t.Errorf("absolute symlink not relocated into the layer: %q", l)
	}
	if b, err := os.ReadFile(lay.Path + ".toml"); err != nil || !strings.Contains(string(b), "launch = true") || !strings.Contains(string(b), "jq=1.6@") {
		t.Errorf("layer toml: %s %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(layers.Path, "tools.sbom.cdx.json")); err != nil || !strings.Contains(string(b), "pkg:deb/debian/jq@1.6?arch=amd64") {
		t.Errorf("sbom: %s %v", b, err)
	}
	if m, _ := filepath.Glob(filepath.Join(cache.Path, "apt", "*.deb")); len(m) != 2 {
		t.Errorf("cache holds %v, want the two .debs", m)
	}

	// Same request, same repository: the layer is reused untouched, nothing downloaded.
	marker := filepath.Join(lay.Path, "marker")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	again, _ := layers.Get("tools")
	res, err = apt.Install(t.Context(), again, AptRequest{Packages: []string{"jq"}, Launch: true, Build: true, Cache: true})
	if err != nil || !res.Reused {
		t.Fatalf("second install: reused=%v err=%v", res != nil && res.Reused, err)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Error("reused layer was rewritten")
	}

	t.Run("requested package already in both images is skipped", func(t *testing.T) {
		lay, _ := layers.Get("libc")
		res, err := apt.Install(t.Context(), lay, AptRequest{Packages: []string{"libc6"}, Launch: true, Build: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Packages) != 0 || !slices.Equal(res.Skipped, []string{"libc6"}) {
			t.Errorf("packages %v skipped %v", names(res.Packages), res.Skipped)
		}
	})

	t.Run("unknown package names the repositories searched", func(t *testing.T) {
		lay, _ := layers.Get("bad")
		_, err := apt.Install(t.Context(), lay, AptRequest{Packages: []string{"no-such-tool"}, Launch: true})
		var nf *AptNotFoundError
		if !errors.As(err, &nf) || nf.Package != "no-such-tool" || !strings.Contains(err.Error(), repo.URL+" "+debiantest.Suite+" main") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("no stack record: a clear error", func(t *testing.T) {
		lay, _ := layers.Get("norecord")
		_, err := (&Apt{Root: t.TempDir()}).Install(t.Context(), lay, AptRequest{Packages: []string{"jq"}, Launch: true})
		if err == nil || !strings.Contains(err.Error(), debian.StackSourcesFile) || !strings.Contains(err.Error(), "rebuild the stack") {
			t.Fatalf("err = %v", err)
		}
	})
}

func names(pkgs []*debian.Package) []string {
	var out []string
	for _, p := range pkgs {
		out = append(out, p.Name)
	}
	return out
}
