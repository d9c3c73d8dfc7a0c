package platform

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Inputs every phase and `slipway build` read from the environment, parsed in one place.

// SourceDateEpoch is SOURCE_DATE_EPOCH from env ("KEY=VALUE" entries); zero when unset, which
// means the reproducible default (platform.md, Build Reproducibility).
func SourceDateEpoch(env []string) (time.Time, error) {
	v, ok := lookup(env, "SOURCE_DATE_EPOCH")
	if !ok || v == "" {
		return time.Time{}, nil
	}
	sec, err := strconv.ParseInt(v, 10, 64)
	if err != nil || sec < 0 {
		return time.Time{}, NewError(CodeInvalidArgs, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a number of seconds since 1970", v))
	}
	return time.Unix(sec, 0).UTC(), nil
}

// ErrNoCNBUser is returned by CNBUser when the environment names no CNB user.
var ErrNoCNBUser = errors.New("CNB_USER_ID and CNB_GROUP_ID are not set")

// CNBUser reads CNB_USER_ID and CNB_GROUP_ID from env: the build image's Env, or a phase's
// own environment (platform.md, Build Image). what names the environment in errors.
func CNBUser(env []string, what string) (uid, gid int, err error) {
	get := func(key string) (int, error) {
		v, ok := lookup(env, key)
		if !ok || v == "" {
			return 0, fmt.Errorf("%s: %w; a CNB build image must set both in its Env", what, ErrNoCNBUser)
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%s: %s=%q is not a user or group id", what, key, v)
		}
		return n, nil
	}
	if uid, err = get("CNB_USER_ID"); err != nil {
		return 0, 0, err
	}
	if gid, err = get("CNB_GROUP_ID"); err != nil {
		return 0, 0, err
	}
	return uid, gid, nil
}

func lookup(env []string, key string) (string, bool) {
	v, ok := "", false
	for _, kv := range env {
		if k, val, found := strings.Cut(kv, "="); found && k == key {
			v, ok = val, true // the last one wins, as in a process environment
		}
	}
	return v, ok
}
