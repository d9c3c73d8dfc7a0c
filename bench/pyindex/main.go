// Command pyindex serves the benchmark's Python packages on 127.0.0.1: a PEP 503 index of
// wheels rebuilt from Debian's python3-* packages (Flask, its dependencies, gunicorn), and
// writes what bench/python.sh needs beside it: the index URL, a pinned requirements.txt,
// and Debian's CPython laid out under a prefix (bin/, lib/python3.11, pip.whl) for the
// Dockerfile side, so both sides run the same Python and packages.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/slipway/slipway/debian"
	"github.com/slipway/slipway/internal/pypiindex"
)

var flaskDebs = []string{"python3-flask", "python3-werkzeug", "python3-jinja2", "python3-markupsafe", "python3-itsdangerous", "python3-click", "python3-blinker", "python3-gunicorn", "python3-setuptools-whl"}
var pythonDebs = append([]string{"python3.11-minimal", "libpython3.11-minimal", "libpython3.11-stdlib", "python3-pip-whl"}, pythonLibDebs...)

// pythonLibDebs are the libraries CPython's extension modules link that the run image
// lacks (pyexpat, _ctypes, _sqlite3, _curses, readline, _uuid, _crypt, _dbm): a
// python:3.11-slim image has each (libdb5.3 through its Debian base), so the Dockerfile
// side gets them too. nis, which links libnsl2 (and Kerberos through libtirpc3), is not
// built in python:3.11-slim and is left out on both sides.
var pythonLibDebs = []string{"libexpat1", "libffi8", "libsqlite3-0", "libncursesw6", "libreadline8", "libuuid1", "libcrypt1", "libdb5.3"}

func main() {
	cache := flag.String("cache", "/var/tmp/slipway-test-cache/debs", ".deb cache (by SHA256)")
	urlFile := flag.String("url-file", "", "write the index URL here")
	reqFile := flag.String("requirements", "", "write a pinned requirements.txt here")
	pyDir := flag.String("python-dir", "", "write Debian's CPython under this prefix")
	lifetime := flag.Duration("lifetime", 2*time.Hour, "exit after this long")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *cache, *urlFile, *reqFile, *pyDir, *lifetime); err != nil {
		fmt.Fprintln(os.Stderr, "pyindex:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cache, urlFile, reqFile, pyDir string, lifetime time.Duration) error {
	debs, err := pypiindex.FetchDebian(ctx, cache, append(append([]string(nil), flaskDebs...), pythonDebs...)...)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "pyindex-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	idx := pypiindex.New()
	defer idx.Close()
	var reqs []string
	for _, n := range flaskDebs {
		var extra []string
		if n == "python3-gunicorn" {
			extra = []string{"setuptools>=3.0"} // dropped from Debian's egg-info; gunicorn 20 imports pkg_resources
		}
		w, err := pypiindex.WheelFromDeb(debs[n], tmp, extra...)
		if err != nil {
			return err
		}
		idx.Add(w)
		reqs = append(reqs, w.Name+"=="+w.Version)
	}
	sort.Strings(reqs)
	if reqFile != "" {
		if err := os.WriteFile(reqFile, []byte(strings.Join(reqs, "\n")+"\n"), 0o644); err != nil {
			return err
		}
	}
	if pyDir != "" {
		if err := layoutPython(ctx, debs, pyDir); err != nil {
			return err
		}
	}
	if urlFile != "" {
		if err := os.WriteFile(urlFile, []byte(idx.URL), 0o644); err != nil {
			return err
		}
	}
	select {
	case <-ctx.Done():
	case <-time.After(lifetime):
	}
	return nil
}

// layoutPython extracts Debian's CPython and moves /usr/bin/python3.11 and
// /usr/lib/python3.11 under prefix, with the libraries of pythonLibDebs in prefix/lib
// (the nis module dropped) and pip's wheel at
// prefix/share/pip-*.whl; Debian's EXTERNALLY-MANAGED marker is dropped, as in a python
// image.
func layoutPython(ctx context.Context, debs map[string]string, prefix string) error {
	root := prefix + ".root"
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(root)
	r, err := os.OpenRoot(root)
	if err != nil {
		return err
	}
	for _, n := range pythonDebs {
		f, err := os.Open(debs[n])
		if err != nil {
			return err
		}
		_, err = debian.Extract(ctx, f, r, n, debian.ExtractOptions{})
		f.Close()
		if err != nil {
			return err
		}
	}
	r.Close()
	for _, d := range []string{"bin", "lib", "share"} {
		if err := os.MkdirAll(filepath.Join(prefix, d), 0o755); err != nil {
			return err
		}
	}
	moves := map[string]string{
		"usr/bin/python3.11": "bin/python3.11",
		"usr/lib/python3.11": "lib/python3.11",
	}
	libs, _ := filepath.Glob(filepath.Join(root, "lib/x86_64-linux-gnu/*.so*"))
	libs2, _ := filepath.Glob(filepath.Join(root, "usr/lib/x86_64-linux-gnu/*.so*"))
	libs = append(libs, libs2...)
	for _, l := range libs {
		rel, _ := filepath.Rel(root, l)
		moves[rel] = "lib/" + filepath.Base(l)
	}
	whl, _ := filepath.Glob(filepath.Join(root, "usr/share/python-wheels/pip-*.whl"))
	if len(whl) != 1 {
		return fmt.Errorf("no pip wheel in python3-pip-whl")
	}
	rel, _ := filepath.Rel(root, whl[0])
	moves[rel] = "share/" + filepath.Base(whl[0])
	for from, to := range moves {
		if err := os.Rename(filepath.Join(root, from), filepath.Join(prefix, to)); err != nil {
			return err
		}
	}
	os.Remove(filepath.Join(prefix, "lib/python3.11/EXTERNALLY-MANAGED"))
	nis, _ := filepath.Glob(filepath.Join(prefix, "lib/python3.11/lib-dynload/nis.*.so"))
	for _, f := range nis {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	for _, l := range []string{"python3", "python"} {
		if err := os.Symlink("python3.11", filepath.Join(prefix, "bin", l)); err != nil && !os.IsExist(err) {
			return err
		}
	}
	return nil
}
