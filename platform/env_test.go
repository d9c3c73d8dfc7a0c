package platform

import (
	"errors"
	"testing"
	"time"
)

func TestSourceDateEpoch(t *testing.T) {
	for _, tc := range []struct {
		env     []string
		want    time.Time
		wantErr bool
	}{
		{nil, time.Time{}, false},
		{[]string{"SOURCE_DATE_EPOCH="}, time.Time{}, false},
		{[]string{"SOURCE_DATE_EPOCH=1700000000"}, time.Unix(1700000000, 0).UTC(), false},
		{[]string{"SOURCE_DATE_EPOCH=1", "SOURCE_DATE_EPOCH=2"}, time.Unix(2, 0).UTC(), false},
		{[]string{"SOURCE_DATE_EPOCH=yesterday"}, time.Time{}, true},
		{[]string{"SOURCE_DATE_EPOCH=-5"}, time.Time{}, true},
	} {
		got, err := SourceDateEpoch(tc.env)
		if (err != nil) != tc.wantErr || !got.Equal(tc.want) {
			t.Errorf("%v: %v, %v; want %v, err=%v", tc.env, got, err, tc.want, tc.wantErr)
		}
		if err != nil && ExitCode(err) != CodeInvalidArgs {
			t.Errorf("%v: exit code %d, want %d", tc.env, ExitCode(err), CodeInvalidArgs)
		}
	}
}

func TestCNBUser(t *testing.T) {
	uid, gid, err := CNBUser([]string{"PATH=/bin", "CNB_USER_ID=1000", "CNB_GROUP_ID=1001"}, "build image x")
	if err != nil || uid != 1000 || gid != 1001 {
		t.Errorf("got %d:%d, %v", uid, gid, err)
	}
	if _, _, err := CNBUser([]string{"CNB_USER_ID=1000"}, "build image x"); !errors.Is(err, ErrNoCNBUser) {
		t.Errorf("missing group: %v, want ErrNoCNBUser", err)
	}
	if _, _, err := CNBUser([]string{"CNB_USER_ID=me", "CNB_GROUP_ID=1"}, "build image x"); err == nil {
		t.Error("non-numeric uid accepted")
	}
}
