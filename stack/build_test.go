package stack_test

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/slipway/slipway/debian"
	"github.com/slipway/slipway/debian/debiantest"
	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/stack"
)

func testRepo(t *testing.T) *debiantest.Repo {
	repo := debiantest.New(t)
	repo.Add(debiantest.Deb{Name: "base-files", Version: "12.4", Priority: "required", Files: map[string]string{
		"/usr/lib/os-release": "ID=debian\nVERSION_ID=\"12\"\n", "/etc/os-release": "->../usr/lib/os-release",
	}})
	repo.Add(debiantest.Deb{Name: "base-passwd", Version: "3.6", Files: map[string]string{
		"/usr/share/base-passwd/passwd.master": "root:x:0:0:root:/root:/bin/bash\n",
		"/usr/share/base-passwd/group.master":  "root:x:0:\n",
	}, Scripts: map[string]string{"preinst": "#!/bin/sh\n"}})
	repo.Add(debiantest.Deb{Name: "libc6", Version: "2.36-9", MultiArch: "same", Files: map[string]string{"/lib/x86_64-linux-gnu/libc.so.6": "libc v1"}})
	repo.Add(debiantest.Deb{Name: "bash", Version: "5.2", PreDepends: "libc6 (>= 2.36)", Depends: "base-files", Files: map[string]string{"/bin/bash": "#!bash"}})
	repo.Add(debiantest.Deb{Name: "ca-certificates", Version: "2023", Files: map[string]string{
		"/usr/share/ca-certificates/mozilla/B.crt": "-----CERT B-----", "/usr/share/ca-certificates/mozilla/A.crt": "-----CERT A-----\n",
	}, Scripts: map[string]string{"postinst": "#!/bin/sh\nupdate-ca-certificates\n"}})
	repo.Add(debiantest.Deb{Name: "gcc", Version: "12", Depends: "libc6", Files: map[string]string{"/usr/bin/gcc": "gcc"}})
	return repo
}

func testDefinition(repo *debiantest.Repo) *stack.Definition {
	return &stack.Definition{
		ID: "io.example.test", Maintainer: "Tester", Homepage: "https://example.invalid", Architecture: "amd64",
		Sources: []stack.SourceConfig{{URL: repo.URL, Suite: debiantest.Suite, Components: []string{"main"}, Keyring: repo.Keyring}},
		User:    stack.UserConfig{Name: "cnb", BuildUID: 1000, BuildGID: 1000, RunUID: 1001, RunGID: 1000},
		Build:   stack.ImageConfig{Image: "example/build", Packages: []string{"base-passwd", "bash", "gcc", "ca-certificates"}, Env: []string{"LANG=C.UTF-8"}},
		Run:     stack.ImageConfig{Image: "example/run", Packages: []string{"base-passwd", "bash"}},
		File:    "test stack.toml",
	}
}

// files reads the single layer of img into name → content (symlinks as "->target").
func files(t *testing.T, img v1.Image) map[string]string {
	t.Helper()
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %v, %d", err, len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		switch h.Typeflag {
		case tar.TypeSymlink:
			out[h.Name] = "->" + h.Linkname
		case tar.TypeReg:
			b, _ := io.ReadAll(tr)
			out[h.Name] = string(b)
		default:
			out[h.Name] = ""
		}
	}
}

// platform.md, Build Image (User, CNB_USER_ID/CNB_GROUP_ID), the io.buildpacks.base.* labels,
// the dpkg database, the CNB user, reproducibility (platform.md, Build Reproducibility).
func TestBuildFromTestRepository(t *testing.T) {
	repo := testRepo(t)
	repo.Publish(nil)
	def := testDefinition(repo)
	cache := t.TempDir()
	res, err := stack.Build(t.Context(), def, stack.BuildOptions{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	build, run := files(t, res.Build.Image), files(t, res.Run.Image)
	bcf, _ := res.Build.Image.ConfigFile()
	rcf, _ := res.Run.Image.ConfigFile()
	tests := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"valid images", func(t *testing.T) {
			for _, img := range []v1.Image{res.Build.Image, res.Run.Image} {
				if err := validate.Image(img); err != nil {
					t.Error(err)
				}
			}
		}},
		{"merged /usr: /bin/bash lands in usr/bin", func(t *testing.T) {
			if build["bin"] != "->usr/bin" || build["usr/bin/bash"] != "#!bash" || build["lib64"] != "->usr/lib64" {
				t.Errorf("bin=%q usr/bin/bash=%q lib64=%q", build["bin"], build["usr/bin/bash"], build["lib64"])
			}
		}},
		{"run image has only its packages", func(t *testing.T) {
			if _, ok := run["usr/bin/gcc"]; ok {
				t.Error("gcc in the run image")
			}
			if run["usr/lib/x86_64-linux-gnu/libc.so.6"] != "libc v1" {
				t.Error("dependency libc6 of bash missing from the run image")
			}
		}},
		{"dpkg status lists each package, sorted, installed", func(t *testing.T) {
			st := run["var/lib/dpkg/status"]
			var names []string
			for _, p := range strings.Split(strings.TrimSpace(st), "\n\n") {
				if !strings.Contains(p, "\nStatus: install ok installed\n") {
					t.Errorf("entry without installed status:\n%s", p)
				}
				names = append(names, strings.TrimPrefix(strings.SplitN(p, "\n", 2)[0], "Package: "))
			}
			if want := []string{"base-files", "base-passwd", "bash", "libc6"}; !slices.Equal(names, want) {
				t.Errorf("status packages %v, want %v", names, want)
			}
			if !strings.Contains(run["var/lib/dpkg/info/libc6:amd64.list"], "/lib/x86_64-linux-gnu/libc.so.6") {
				t.Errorf("libc6:amd64.list = %q", run["var/lib/dpkg/info/libc6:amd64.list"])
			}
		}},
		{"CNB user in passwd and group, from base-passwd's masters", func(t *testing.T) {
			if run["etc/passwd"] != "root:x:0:0:root:/root:/bin/bash\ncnb:x:1001:1000::/home/cnb:/bin/bash\n" {
				t.Errorf("run /etc/passwd = %q", run["etc/passwd"])
			}
			if !strings.Contains(build["etc/passwd"], "cnb:x:1000:1000:") || !strings.Contains(build["etc/group"], "cnb:x:1000:") {
				t.Errorf("build passwd %q group %q", build["etc/passwd"], build["etc/group"])
			}
		}},
		{"ca bundle and cc alternative made without maintainer scripts", func(t *testing.T) {
			if build["etc/ssl/certs/ca-certificates.crt"] != "-----CERT A-----\n-----CERT B-----\n" {
				t.Errorf("bundle = %q", build["etc/ssl/certs/ca-certificates.crt"])
			}
			if build["usr/bin/cc"] != "->/etc/alternatives/cc" || build["etc/alternatives/cc"] != "->/usr/bin/gcc" {
				t.Errorf("cc = %q → %q", build["usr/bin/cc"], build["etc/alternatives/cc"])
			}
		}},
		{"build image records the apt sources, their keyring and the run image's packages", func(t *testing.T) {
			list := build["etc/slipway/apt/sources.list"]
			want := "deb [arch=amd64 signed-by=/etc/slipway/apt/keyrings/" + filepath.Base(repo.Keyring) + "] " + repo.URL + " " + debiantest.Suite + " main\n"
			if list != want {
				t.Errorf("sources.list = %q, want %q", list, want)
			}
			key, _ := os.ReadFile(repo.Keyring)
			if build["etc/slipway/apt/keyrings/"+filepath.Base(repo.Keyring)] != string(key) {
				t.Error("keyring not copied into the build image")
			}
			st, err := debian.ReadStatus(strings.NewReader(build["etc/slipway/apt/run-status"]), "run-status")
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, p := range st {
				names = append(names, p.Name+"="+p.Version)
			}
			if want := []string{"base-files=12.4", "base-passwd=3.6", "bash=5.2", "libc6=2.36-9"}; !slices.Equal(names, want) {
				t.Errorf("run-status %v, want %v", names, want)
			}
			if _, ok := run["etc/slipway/apt/sources.list"]; ok {
				t.Error("the run image carries the build-time record")
			}
		}},
		{"packages whose scripts did not run are reported", func(t *testing.T) {
			if !slices.Equal(res.Build.Unconfigured, []string{"base-passwd", "ca-certificates"}) {
				t.Errorf("build unconfigured = %v", res.Build.Unconfigured)
			}
		}},
		{"config: User, env, labels (platform.md, Build Image)", func(t *testing.T) {
			if bcf.Config.User != "1000:1000" || rcf.Config.User != "1001:1000" {
				t.Errorf("users %q %q", bcf.Config.User, rcf.Config.User)
			}
			if !slices.Contains(bcf.Config.Env, "CNB_USER_ID=1000") || !slices.Contains(bcf.Config.Env, "CNB_GROUP_ID=1000") || !slices.Contains(bcf.Config.Env, "LANG=C.UTF-8") {
				t.Errorf("build env %v", bcf.Config.Env)
			}
			if slices.Contains(rcf.Config.Env, "CNB_USER_ID=1001") {
				t.Errorf("run env has CNB_USER_ID: %v", rcf.Config.Env)
			}
			for k, v := range map[string]string{platform.LabelDistroName: "debian", platform.LabelDistroVersion: "12", platform.LabelMaintainer: "Tester", platform.LabelHomepage: "https://example.invalid", platform.LabelStackID: "io.example.test"} {
				if rcf.Config.Labels[k] != v || bcf.Config.Labels[k] != v {
					t.Errorf("label %s = %q/%q, want %q", k, bcf.Config.Labels[k], rcf.Config.Labels[k], v)
				}
			}
			if rcf.Architecture != "amd64" || rcf.OS != "linux" {
				t.Errorf("platform %s/%s", rcf.OS, rcf.Architecture)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.check)
	}

	// platform.md, Build Reproducibility: same package versions → same digests; a newer version in the
	// index → a new run image (the patch flow).
	again, err := stack.Build(t.Context(), def, stack.BuildOptions{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := res.Run.Image.Digest()
	d2, _ := again.Run.Image.Digest()
	b1, _ := res.Build.Image.Digest()
	b2, _ := again.Build.Image.Digest()
	if d1 != d2 || b1 != b2 {
		t.Errorf("rebuild changed digests: run %s → %s, build %s → %s", d1, d2, b1, b2)
	}
	repo.Add(debiantest.Deb{Name: "libc6", Version: "2.36-9+deb12u1", MultiArch: "same", Files: map[string]string{"/lib/x86_64-linux-gnu/libc.so.6": "libc v2"}})
	repo.Publish(nil)
	patched, err := stack.Build(t.Context(), def, stack.BuildOptions{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	if d3, _ := patched.Run.Image.Digest(); d3 == d1 {
		t.Error("run image digest unchanged after a libc6 update")
	}
	if got := files(t, patched.Run.Image)["usr/lib/x86_64-linux-gnu/libc.so.6"]; got != "libc v2" {
		t.Errorf("patched libc = %q", got)
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name    string
		modify  func(t *testing.T, repo *debiantest.Repo, def *stack.Definition)
		wantErr []string
	}{
		{"package not in the index", func(t *testing.T, _ *debiantest.Repo, def *stack.Definition) {
			def.Run.Packages = append(def.Run.Packages, "nosuch")
		}, []string{"[run]", "cannot install nosuch", "no package of that name"}},
		{"dependency chain unsatisfiable", func(t *testing.T, repo *debiantest.Repo, def *stack.Definition) {
			repo.Add(debiantest.Deb{Name: "app", Version: "1", Depends: "bash, libfoo (>= 2)"})
			repo.Add(debiantest.Deb{Name: "libfoo", Version: "1.5"})
			def.Build.Packages = append(def.Build.Packages, "app")
		}, []string{"[build]", "app → libfoo (>= 2)", "only version 1.5"}},
		{"keyring of another archive", func(t *testing.T, _ *debiantest.Repo, def *stack.Definition) {
			other := filepath.Join(t.TempDir(), "other.gpg")
			debiantest.WriteKeyring(t, other, debiantest.NewKey(t, "Other <o@example.invalid>"))
			def.Sources[0].Keyring = other
		}, []string{"InRelease", "not in keyring", "other.gpg"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			repo := testRepo(t)
			def := testDefinition(repo)
			tc.modify(t, repo, def)
			repo.Publish(nil)
			_, err := stack.Build(t.Context(), def, stack.BuildOptions{CacheDir: t.TempDir()})
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

// stack.toml ca-certificates: extra PEM certificates are trusted in both images, after
// Mozilla's, as update-ca-certificates does with /usr/local/share/ca-certificates.
func TestBuildWithExtraCACertificates(t *testing.T) {
	repo := testRepo(t)
	repo.Publish(nil)
	def := testDefinition(repo)
	dir := t.TempDir()
	def.File = filepath.Join(dir, "stack.toml")
	pem := "-----BEGIN CERTIFICATE-----\nproxy\n-----END CERTIFICATE-----\n"
	if err := os.WriteFile(filepath.Join(dir, "proxy.pem"), []byte(pem), 0o644); err != nil {
		t.Fatal(err)
	}
	def.CACertificates = []string{"proxy.pem"}
	res, err := stack.Build(t.Context(), def, stack.BuildOptions{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	build, run := files(t, res.Build.Image), files(t, res.Run.Image)
	if got := build["etc/ssl/certs/ca-certificates.crt"]; got != "-----CERT A-----\n-----CERT B-----\n"+pem {
		t.Errorf("build image bundle = %q", got)
	}
	if got := run["etc/ssl/certs/ca-certificates.crt"]; got != pem {
		t.Errorf("run image (no ca-certificates package) bundle = %q", got)
	}
	if run["usr/local/share/ca-certificates/slipway-00-proxy.crt"] != pem {
		t.Error("certificate not kept under /usr/local/share/ca-certificates")
	}
}

func TestExtraCACertificateErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "bad.pem"), []byte("not a cert"), 0o644)
	base := "[[sources]]\nurl = \"http://example.invalid/debian\"\nsuite = \"s\"\ncomponents = [\"main\"]\nkeyring = \"k.gpg\"\n" +
		"[user]\nbuild-uid = 1000\nbuild-gid = 1000\nrun-uid = 1001\nrun-gid = 1000\n[build]\nimage = \"b\"\npackages = [\"bash\"]\n[run]\nimage = \"r\"\npackages = [\"bash\"]\n"
	for name, tc := range map[string]struct{ certs, want string }{
		"missing file": {`["nope.pem"]`, "nope.pem"},
		"not PEM":      {`["bad.pem"]`, "bad.pem is not a PEM certificate"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := stack.ParseDefinition([]byte("ca-certificates = "+tc.certs+"\n"+base), filepath.Join(dir, "stack.toml"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
