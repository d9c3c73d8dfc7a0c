package pipeline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The CNB user's home comes from the build image's /etc/passwd and becomes a mount point:
// whatever the image says, nothing is created outside the rootfs (issue: a home of
// /../../../tmp/x/pwned or a symlink to a host path made dirs on the host).
func TestHomeStaysInsideTheRootfs(t *testing.T) {
	outside := t.TempDir() // stands for any host directory
	for _, tc := range []struct {
		name    string
		home    string
		link    [2]string // optional symlink in the rootfs: path, target
		want    string    // home, or "" when an error is expected
		errHas  string
		created string // rootfs path that must exist afterwards
	}{
		{name: "plain", home: "/home/cnb", want: "/home/cnb", created: "home/cnb"},
		{name: "dot-dot escape", home: "/../../../" + strings.TrimPrefix(outside, "/") + "/pwned", errHas: "not a clean absolute path"},
		{name: "relative", home: "home/cnb", errHas: "not a clean absolute path"},
		{name: "symlink to a host dir", home: "/home/cnb", link: [2]string{"home/cnb", outside}, errHas: "must stay inside the image"},
		{name: "under a symlinked parent", home: "/home/cnb/sub", link: [2]string{"home/cnb", "../../../../../../../" + outside}, errHas: "must stay inside the image"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rootfs := t.TempDir()
			if err := os.MkdirAll(filepath.Join(rootfs, "etc"), 0o755); err != nil {
				t.Fatal(err)
			}
			passwd := "root:x:0:0:root:/root:/bin/sh\ncnb:x:1000:1000::" + tc.home + ":/bin/bash\n"
			if err := os.WriteFile(filepath.Join(rootfs, "etc", "passwd"), []byte(passwd), 0o644); err != nil {
				t.Fatal(err)
			}
			if tc.link[0] != "" {
				if err := os.MkdirAll(filepath.Dir(filepath.Join(rootfs, tc.link[0])), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(tc.link[1], filepath.Join(rootfs, tc.link[0])); err != nil {
					t.Fatal(err)
				}
			}
			home, err := homeDir(rootfs, 1000, "example/build:1")
			if err == nil {
				_, err = writableHome(rootfs, home, t.TempDir(), "example/build:1")
			}
			if tc.want == "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) || !strings.Contains(err.Error(), "example/build:1") {
					t.Fatalf("err = %v; want an error naming the image and %q", err, tc.errHas)
				}
			} else if err != nil || home != tc.want {
				t.Fatalf("home = %q, %v; want %q", home, err, tc.want)
			}
			if tc.created != "" {
				if fi, err := os.Stat(filepath.Join(rootfs, tc.created)); err != nil || !fi.IsDir() {
					t.Errorf("mount point %s not created in the rootfs: %v", tc.created, err)
				}
			}
			if entries, _ := os.ReadDir(outside); len(entries) != 0 {
				t.Errorf("something was created outside the rootfs: %v", entries)
			}
		})
	}
}
