package sandbox_test

import (
	"testing"

	"github.com/slipway/slipway/sandbox"
)

func TestParseNetwork(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want sandbox.Network
		bad  bool
	}{
		{in: "", want: sandbox.NetworkPrivate},
		{in: "default", want: sandbox.NetworkPrivate},
		{in: "private", want: sandbox.NetworkPrivate},
		{in: "host", want: sandbox.NetworkHost},
		{in: "bridge", bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := sandbox.ParseNetwork(tc.in)
			if tc.bad {
				if err == nil {
					t.Fatalf("ParseNetwork(%q) = %q, want an error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseNetwork(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}
