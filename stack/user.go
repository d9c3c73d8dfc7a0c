package stack

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"syscall"
)

// AddUser adds the CNB user to the rootfs in dir: a group name:gid in /etc/group, a user
// name:uid:gid in /etc/passwd (and a locked /etc/shadow entry when that file exists), and
// a home dir /home/<name> owned by uid:gid. Base images need the user to exist so tools
// that look up the current user (ssh, git, npm) work (platform.md, Build Image). Adding the same
// user again is a no-op; a name or id already taken by someone else is an error.
//
// Ownership is set only when running as root; without root the rootfs cannot hold other
// owners anyway.
func AddUser(rootfs, name string, uid, gid int) error {
	if name == "" || strings.ContainsAny(name, ":\n/") {
		return fmt.Errorf("add user %q to %s: invalid user name", name, rootfs)
	}
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		return fmt.Errorf("add user %s: open rootfs %s: %w", name, rootfs, err)
	}
	defer root.Close()
	home := "/home/" + name
	shell := "/bin/sh"
	if _, err := root.Stat("bin/bash"); err == nil {
		shell = "/bin/bash"
	}
	// Group first: the passwd entry refers to it by gid.
	if err := addEntry(root, "etc/group", name, gid, name+":x:"+strconv.Itoa(gid)+":"); err != nil {
		return fmt.Errorf("add user %s to %s: %w", name, rootfs, err)
	}
	pw := fmt.Sprintf("%s:x:%d:%d::%s:%s", name, uid, gid, home, shell)
	if err := addEntry(root, "etc/passwd", name, uid, pw); err != nil {
		return fmt.Errorf("add user %s to %s: %w", name, rootfs, err)
	}
	if _, err := root.Lstat("etc/shadow"); err == nil {
		// "!" locks the password; empty ageing fields keep the entry free of dates, so the
		// image stays reproducible.
		if err := addEntry(root, "etc/shadow", name, -1, name+":!::::::"); err != nil {
			return fmt.Errorf("add user %s to %s: %w", name, rootfs, err)
		}
	}
	rel := strings.TrimPrefix(home, "/")
	if err := root.MkdirAll(rel, 0o755); err != nil {
		return fmt.Errorf("add user %s: create home %s in %s: %w", name, home, rootfs, err)
	}
	if os.Geteuid() == 0 {
		if err := root.Lchown(rel, uid, gid); err != nil {
			return fmt.Errorf("add user %s: chown home %s in %s: %w", name, home, rootfs, err)
		}
	}
	return nil
}

// addEntry appends line to the colon-separated database file unless an entry for name
// exists. With id >= 0, an entry of another name with the same id (third field) is a
// conflict. The file is replaced atomically, keeping its mode and owner.
func addEntry(root *os.Root, file, name string, id int, line string) error {
	data, err := root.ReadFile(file)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read /%s: %w", file, err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Split(l, ":")
		if len(f) < 3 {
			continue
		}
		if f[0] == name {
			if id >= 0 && f[2] != strconv.Itoa(id) {
				return fmt.Errorf("/%s already has %s with id %s, not %d", file, name, f[2], id)
			}
			return nil
		}
		if id >= 0 && f[2] == strconv.Itoa(id) {
			return fmt.Errorf("id %d is taken by %s in /%s; choose another id", id, f[0], file)
		}
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		data = append(data, '\n')
	}
	data = append(data, line+"\n"...)

	mode, uid, gid := fs.FileMode(0o644), -1, -1
	if fi, err := root.Stat(file); err == nil {
		mode = fi.Mode().Perm()
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			uid, gid = int(st.Uid), int(st.Gid)
		}
	}
	if err := root.MkdirAll(path.Dir(file), 0o755); err != nil {
		return fmt.Errorf("create /%s: %w", path.Dir(file), err)
	}
	tmp := file + ".slipway-tmp"
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return fmt.Errorf("write /%s: %w", file, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		root.Remove(tmp)
		return fmt.Errorf("write /%s: %w", file, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		root.Remove(tmp)
		return fmt.Errorf("write /%s: %w", file, err)
	}
	if err := f.Close(); err != nil {
		root.Remove(tmp)
		return fmt.Errorf("write /%s: %w", file, err)
	}
	if err := root.Chmod(tmp, mode); err != nil { // OpenFile's mode is filtered by umask
		root.Remove(tmp)
		return fmt.Errorf("write /%s: %w", file, err)
	}
	if uid >= 0 && os.Geteuid() == 0 {
		if err := root.Lchown(tmp, uid, gid); err != nil {
			root.Remove(tmp)
			return fmt.Errorf("write /%s: %w", file, err)
		}
	}
	if err := root.Rename(tmp, file); err != nil {
		root.Remove(tmp)
		return fmt.Errorf("write /%s: %w", file, err)
	}
	return nil
}
