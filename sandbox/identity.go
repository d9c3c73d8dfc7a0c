package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// DefaultHostID is the host uid and gid the CNB user becomes when slipway runs as root and
// /etc/subuid (/etc/subgid) has no "slipway" entry: far above the ranges useradd hands out
// for people (1000…) and subordinate ids (100000…), so no real account owns it
// (docs/sandbox.md, "Who the buildpacks are on the host").
const DefaultHostID = 1_000_000_000

// subIDName is the /etc/subuid and /etc/subgid entry that chooses the host id instead.
const subIDName = "slipway"

// HostIdentity is who a sandboxed process is on the host. Files the buildpacks write are
// owned by UID:GID there; when Privileged, slipway runs as root and UID:GID is the dedicated
// unprivileged id, never 0, so nothing a buildpack does acts as host root.
type HostIdentity struct {
	UID, GID   int
	Privileged bool
}

// HostUser returns the host identity of the CNB user: the invoking user for a rootless
// slipway; for root, the first id of the "slipway" entries in /etc/subuid and /etc/subgid,
// else DefaultHostID.
func HostUser() (HostIdentity, error) {
	if os.Geteuid() != 0 {
		return HostIdentity{UID: os.Geteuid(), GID: os.Getegid()}, nil
	}
	uid, err := subID("/etc/subuid")
	if err != nil {
		return HostIdentity{}, err
	}
	gid, err := subID("/etc/subgid")
	if err != nil {
		return HostIdentity{}, err
	}
	return HostIdentity{UID: uid, GID: gid, Privileged: true}, nil
}

// subID reads the first id of the "slipway" entry of a subordinate-id file (subuid(5)).
func subID(file string) (int, error) {
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		return DefaultHostID, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", file, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok || name != subIDName {
			continue
		}
		start, _, _ := strings.Cut(rest, ":")
		n, err := strconv.Atoi(start)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("%s: entry %q has start %q; want a positive id (slipway:START:COUNT)", file, subIDName, start)
		}
		return n, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read %s: %w", file, err)
	}
	return DefaultHostID, nil
}

// own hands a writable bind to the sandbox user: every entry not already owned by id is
// chowned to it (without following symlinks), so buildpacks can write what the host put
// there (the app copy, restored layers) and what they write is never owned by host root.
// The walk is cheap on a warm rebuild: entries the sandbox wrote already belong to id.
func own(dir string, id HostIdentity) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) == id.UID && int(st.Gid) == id.GID {
			return nil
		}
		if err := os.Lchown(p, id.UID, id.GID); err != nil {
			return fmt.Errorf("hand %s to the sandbox user %d:%d: %w", p, id.UID, id.GID, err)
		}
		return nil
	})
}
