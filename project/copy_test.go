package project

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// makeTree creates files (path → content) under dir; a content starting with "->" makes a
// symlink to the rest.
func makeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(c, "->"); ok {
			if err := os.Symlink(target, full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// listTree returns every path under dir (dirs with a trailing slash, symlinks as "p -> t").
func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		switch {
		case info.Mode()&os.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			rel += " -> " + target
		case info.IsDir():
			rel += "/"
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// extensions/project-descriptor.md: include/exclude use gitignore syntax and filter files before the build.
func TestCopyAppFilters(t *testing.T) {
	src := map[string]string{
		"main.go":               "package main",
		"README.md":             "readme",
		"app.log":               "log",
		"keep.log":              "keep",
		"node_modules/x/y.js":   "js",
		"src/a.go":              "a",
		"src/deep/b.go":         "b",
		"src/deep/notes.txt":    "n",
		"docs/empty/":           "",
		".git/HEAD":             "ref",
		"link-to-main":          "->main.go",
		"src/deep/link-outside": "->/etc/passwd",
	}
	tests := []struct {
		name             string
		include, exclude []string
		want             []string
	}{
		{
			name: "no patterns copies everything including .git (as pack does)",
			want: []string{".git/", ".git/HEAD", "README.md", "app.log", "docs/", "docs/empty/", "keep.log", "link-to-main -> main.go",
				"main.go", "node_modules/", "node_modules/x/", "node_modules/x/y.js", "src/", "src/a.go", "src/deep/",
				"src/deep/b.go", "src/deep/link-outside -> /etc/passwd", "src/deep/notes.txt"},
		},
		{
			name:    "exclude with dir pattern, glob and negation",
			exclude: []string{"node_modules/", "*.log", "!keep.log", ".git", "/docs"},
			want: []string{"README.md", "keep.log", "link-to-main -> main.go", "main.go", "src/", "src/a.go", "src/deep/",
				"src/deep/b.go", "src/deep/link-outside -> /etc/passwd", "src/deep/notes.txt"},
		},
		{
			name:    "include keeps only matching files and their parent dirs",
			include: []string{"*.go"},
			want:    []string{"main.go", "src/", "src/a.go", "src/deep/", "src/deep/b.go"},
		},
		{
			name:    "include a directory takes its whole subtree",
			include: []string{"src/deep/", "README.md"},
			want:    []string{"README.md", "src/", "src/deep/", "src/deep/b.go", "src/deep/link-outside -> /etc/passwd", "src/deep/notes.txt"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srcDir, dst := t.TempDir(), filepath.Join(t.TempDir(), "workspace")
			makeTree(t, srcDir, src)
			if err := CopyApp(context.Background(), srcDir, dst, tc.include, tc.exclude); err != nil {
				t.Fatal(err)
			}
			got := listTree(t, dst)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}

// Symlinks are copied as links, never followed, even when they leave the tree or dangle.
func TestCopyAppSymlinksNotFollowed(t *testing.T) {
	outside := t.TempDir()
	makeTree(t, outside, map[string]string{"secret/s.txt": "secret"})
	srcDir, dst := t.TempDir(), filepath.Join(t.TempDir(), "ws")
	makeTree(t, srcDir, map[string]string{
		"out-dir":  "->" + filepath.Join(outside, "secret"),
		"dangling": "->does/not/exist",
		"rel":      "->../../x",
	})
	if err := CopyApp(context.Background(), srcDir, dst, nil, nil); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"out-dir": filepath.Join(outside, "secret"), "dangling": "does/not/exist", "rel": "../../x"} {
		fi, err := os.Lstat(filepath.Join(dst, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("%s: mode %v, want a symlink", name, fi.Mode())
			continue
		}
		if got, _ := os.Readlink(filepath.Join(dst, name)); got != want {
			t.Errorf("%s -> %s, want %s", name, got, want)
		}
	}
	if got := listTree(t, dst); len(got) != 3 {
		t.Errorf("followed a link: %v", got)
	}
}

func TestCopyAppPreservesModeAndMtime(t *testing.T) {
	srcDir, dst := t.TempDir(), filepath.Join(t.TempDir(), "ws")
	makeTree(t, srcDir, map[string]string{"bin/run": "#!/bin/sh", "data": "d", "ro/f": "f"})
	mtime := time.Date(2001, 2, 3, 4, 5, 6, 7000, time.UTC)
	must(t, os.Chmod(filepath.Join(srcDir, "bin/run"), 0o750))
	must(t, os.Chmod(filepath.Join(srcDir, "data"), 0o600))
	for _, p := range []string{"bin/run", "data", "ro/f", "ro", "bin"} {
		must(t, os.Chtimes(filepath.Join(srcDir, p), mtime, mtime))
	}
	must(t, os.Chmod(filepath.Join(srcDir, "ro"), 0o555))
	t.Cleanup(func() { os.Chmod(filepath.Join(srcDir, "ro"), 0o755) })

	for round := range 2 { // the second round syncs over the first (read-only dir included)
		if err := CopyApp(context.Background(), srcDir, dst, nil, nil); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(dst, "ro"), 0o755) })
	for p, mode := range map[string]os.FileMode{"bin/run": 0o750, "data": 0o600, "ro/f": 0o644, "ro": 0o555 | os.ModeDir} {
		fi, err := os.Stat(filepath.Join(dst, p))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != mode {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode(), mode)
		}
		if !fi.ModTime().Equal(mtime) {
			t.Errorf("%s: mtime %v, want %v", p, fi.ModTime(), mtime)
		}
	}
}

func inode(t *testing.T, p string) uint64 {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// A re-sync rewrites only changed files and deletes what left the source (or was excluded).
func TestCopyAppIncremental(t *testing.T) {
	srcDir, dst := t.TempDir(), filepath.Join(t.TempDir(), "ws")
	makeTree(t, srcDir, map[string]string{"same.txt": "same", "changed.txt": "v1", "gone.txt": "x", "olddir/f": "f", "l": "->same.txt", "app.log": "l"})
	ctx := context.Background()
	must(t, CopyApp(ctx, srcDir, dst, nil, nil))
	sameIno := inode(t, filepath.Join(dst, "same.txt"))
	linkIno := inode(t, filepath.Join(dst, "l"))
	changedIno := inode(t, filepath.Join(dst, "changed.txt"))

	must(t, os.WriteFile(filepath.Join(srcDir, "changed.txt"), []byte("v2"), 0o644))
	future := time.Now().Add(time.Hour) // same size: only the mtime tells the change
	must(t, os.Chtimes(filepath.Join(srcDir, "changed.txt"), future, future))
	must(t, os.Remove(filepath.Join(srcDir, "gone.txt")))
	must(t, os.RemoveAll(filepath.Join(srcDir, "olddir")))
	makeTree(t, srcDir, map[string]string{"new/n.txt": "n"})
	// Junk in the workspace that is not in the source is removed too.
	makeTree(t, dst, map[string]string{"junk/j": "j"})

	must(t, CopyApp(ctx, srcDir, dst, nil, []string{"*.log"}))
	if got := inode(t, filepath.Join(dst, "same.txt")); got != sameIno {
		t.Error("unchanged file was rewritten")
	}
	if got := inode(t, filepath.Join(dst, "l")); got != linkIno {
		t.Error("unchanged symlink was recreated")
	}
	if got := inode(t, filepath.Join(dst, "changed.txt")); got == changedIno {
		t.Error("changed file was not rewritten")
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "changed.txt")); string(b) != "v2" {
		t.Errorf("changed.txt = %q", b)
	}
	want := []string{"changed.txt", "l -> same.txt", "new/", "new/n.txt", "same.txt"}
	if got := listTree(t, dst); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestCopyAppErrors(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "file")
	must(t, os.WriteFile(file, nil, 0o644))
	nested := t.TempDir()
	tests := []struct {
		name             string
		src, dst         string
		include, exclude []string
		want             string
	}{
		{"missing source", filepath.Join(tmp, "nope"), filepath.Join(tmp, "ws"), nil, nil, filepath.Join(tmp, "nope")},
		{"source is a file", file, filepath.Join(tmp, "ws"), nil, nil, "not a directory"},
		{"destination inside source", nested, filepath.Join(nested, "ws"), nil, nil, "inside the app directory"},
		{"both include and exclude", tmp, filepath.Join(t.TempDir(), "ws"), []string{"a"}, []string{"b"}, "use one"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CopyApp(context.Background(), tc.src, tc.dst, tc.include, tc.exclude)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
	t.Run("unreadable file names the path", func(t *testing.T) {
		if os.Geteuid() == 0 {
			// Root reads any file: run the copy as nobody in a child process.
			runAsNobody(t, "TestCopyAppUnreadableAsNobody")
			return
		}
		src := t.TempDir()
		p := filepath.Join(src, "secret")
		must(t, os.WriteFile(p, []byte("x"), 0o000))
		err := CopyApp(context.Background(), src, filepath.Join(t.TempDir(), "ws"), nil, nil)
		if err == nil || !strings.Contains(err.Error(), p) {
			t.Fatalf("error %v, want it to name %s", err, p)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := CopyApp(ctx, tmp, filepath.Join(t.TempDir(), "ws"), nil, nil); err == nil {
			t.Fatal("want context error")
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestCopyAppUnreadableAsNobody is the unreadable-file case of TestCopyAppErrors, run by
// runAsNobody in a child process as uid 65534 (root would read the file). It does nothing
// when run directly.
func TestCopyAppUnreadableAsNobody(t *testing.T) {
	root := os.Getenv("SLIPWAY_TEST_NOBODY_DIR")
	if root == "" {
		t.Skip("run by runAsNobody")
	}
	p := filepath.Join(root, "src", "secret")
	err := CopyApp(context.Background(), filepath.Join(root, "src"), filepath.Join(root, "dst", "ws"), nil, nil)
	if err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("error %v, want it to name %s", err, p)
	}
}

// runAsNobody runs test in a copy of this test binary as uid/gid 65534 with a world-readable
// source tree holding one unreadable file and a destination it may write.
func runAsNobody(t *testing.T, test string) {
	t.Helper()
	root, err := os.MkdirTemp("", "slipway-nobody-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(root) })
	must(t, os.Chmod(root, 0o755))
	must(t, os.MkdirAll(filepath.Join(root, "src"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "src", "secret"), []byte("x"), 0o000))
	must(t, os.MkdirAll(filepath.Join(root, "dst"), 0o755))
	must(t, os.Chown(filepath.Join(root, "dst"), 65534, 65534))
	self, err := os.Executable()
	must(t, err)
	bin := filepath.Join(root, "project.test")
	b, err := os.ReadFile(self)
	must(t, err)
	must(t, os.WriteFile(bin, b, 0o755))
	cmd := exec.Command(bin, "-test.run=^"+test+"$", "-test.count=1", "-test.v")
	cmd.Env = []string{"SLIPWAY_TEST_NOBODY_DIR=" + root, "PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s as nobody: %v\n%s", test, err, out)
	}
	if !strings.Contains(string(out), "--- PASS: "+test) {
		t.Fatalf("%s as nobody did not run:\n%s", test, out)
	}
}
