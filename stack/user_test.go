package stack_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/slipway/slipway/stack"
)

// platform.md, Build Image: the CNB user exists in the base image.
func TestAddUser(t *testing.T) {
	const (
		passwd = "root:x:0:0:root:/root:/bin/bash\n_apt:x:42:65534::/nonexistent:/usr/sbin/nologin\n"
		group  = "root:x:0:\nshadow:x:42:\n"
		shadow = "root:*:19000:0:99999:7:::\n"
	)
	tests := []struct {
		name       string
		withBash   bool
		withShadow bool
		adds       [][3]any // name, uid, gid
		wantErr    string
		wantPasswd string
		wantGroup  string
		wantShadow string
	}{
		{
			name: "adds user, group and shadow entry", withBash: true, withShadow: true,
			adds:       [][3]any{{"cnb", 1000, 1000}},
			wantPasswd: passwd + "cnb:x:1000:1000::/home/cnb:/bin/bash\n",
			wantGroup:  group + "cnb:x:1000:\n",
			wantShadow: shadow + "cnb:!::::::\n",
		},
		{
			name:       "falls back to /bin/sh without bash; no shadow file",
			adds:       [][3]any{{"cnb", 1001, 1000}},
			wantPasswd: passwd + "cnb:x:1001:1000::/home/cnb:/bin/sh\n",
			wantGroup:  group + "cnb:x:1000:\n",
		},
		{
			name: "adding the same user twice is a no-op", withShadow: true,
			adds:       [][3]any{{"cnb", 1000, 1000}, {"cnb", 1000, 1000}},
			wantPasswd: passwd + "cnb:x:1000:1000::/home/cnb:/bin/sh\n",
			wantGroup:  group + "cnb:x:1000:\n",
			wantShadow: shadow + "cnb:!::::::\n",
		},
		{
			name:    "a uid taken by another user is an error",
			adds:    [][3]any{{"cnb", 42, 1000}},
			wantErr: "id 42 is taken by _apt",
		},
		{
			name:    "a gid taken by another group is an error",
			adds:    [][3]any{{"cnb", 1000, 42}},
			wantErr: "id 42 is taken by shadow",
		},
		{
			name:    "the same name with another uid is an error",
			adds:    [][3]any{{"cnb", 1000, 1000}, {"cnb", 1001, 1000}},
			wantErr: "already has cnb with id 1000",
		},
		{
			name:    "an invalid name is an error",
			adds:    [][3]any{{"c:nb", 1000, 1000}},
			wantErr: "invalid user name",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			must(t, os.MkdirAll(filepath.Join(dir, "etc"), 0o755))
			must(t, os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
			must(t, os.WriteFile(filepath.Join(dir, "etc/passwd"), []byte(passwd), 0o644))
			must(t, os.WriteFile(filepath.Join(dir, "etc/group"), []byte(group), 0o644))
			if tc.withShadow {
				must(t, os.WriteFile(filepath.Join(dir, "etc/shadow"), []byte(shadow), 0o640))
				if os.Geteuid() == 0 {
					must(t, os.Chown(filepath.Join(dir, "etc/shadow"), 0, 42))
				}
			}
			if tc.withBash {
				must(t, os.WriteFile(filepath.Join(dir, "bin/bash"), nil, 0o755))
			}
			var err error
			for _, a := range tc.adds {
				if err = stack.AddUser(dir, a[0].(string), a[1].(int), a[2].(int)); err != nil {
					break
				}
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantContent(t, dir, "etc/passwd", tc.wantPasswd)
			wantContent(t, dir, "etc/group", tc.wantGroup)
			if tc.withShadow {
				wantContent(t, dir, "etc/shadow", tc.wantShadow)
				fi, _ := os.Stat(filepath.Join(dir, "etc/shadow"))
				if fi.Mode().Perm() != 0o640 {
					t.Errorf("etc/shadow mode = %v, want 0640 kept", fi.Mode())
				}
				if st := fi.Sys().(*syscall.Stat_t); os.Geteuid() == 0 && st.Gid != 42 {
					t.Errorf("etc/shadow gid = %d, want 42 kept", st.Gid)
				}
			}
			fi, err := os.Stat(filepath.Join(dir, "home/cnb"))
			if err != nil || !fi.IsDir() {
				t.Fatalf("home dir: %v", err)
			}
			if st := fi.Sys().(*syscall.Stat_t); os.Geteuid() == 0 && (int(st.Uid) != tc.adds[0][1].(int) || int(st.Gid) != tc.adds[0][2].(int)) {
				t.Errorf("home owner = %d:%d, want %v:%v", st.Uid, st.Gid, tc.adds[0][1], tc.adds[0][2])
			}
			if m, _ := filepath.Glob(filepath.Join(dir, "etc/*tmp*")); len(m) > 0 {
				t.Errorf("temp files left: %v", m)
			}
		})
	}
}

func wantContent(t *testing.T, dir, name, want string) {
	t.Helper()
	got, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s =\n%s\nwant\n%s", name, got, want)
	}
}
