package api

import (
	"errors"
	"testing"
)

// platform.md, Platform API Compatibility: "<major>.<minor>", bare "<major>" means "<major>.0".
func TestParse(t *testing.T) {
	cases := []struct {
		in      string
		want    Version
		wantErr bool
	}{
		{"0.12", Version{0, 12}, false},
		{"1", Version{1, 0}, false},
		{" 0.7 ", Version{0, 7}, false},
		{"0.x", Version{}, true},
		{"", Version{}, true},
		{"-1.2", Version{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := Parse(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCompareOrdersNumerically(t *testing.T) {
	if MustParse("0.10").Compare(MustParse("0.9")) != 1 {
		t.Fatal("0.10 must sort after 0.9")
	}
	if !MustParse("1.0").AtLeast(MustParse("0.15")) {
		t.Fatal("1.0 >= 0.15")
	}
}

// buildpack.md, Buildpack API Compatibility: every gate depends on the buildpack's own API.
func TestForBuildpackCapabilities(t *testing.T) {
	cases := []struct {
		api  string
		want Buildpack
	}{
		{"0.7", Buildpack{}},
		{"0.8", Buildpack{PathEnv: true, WorkingDir: true}},
		{"0.9", Buildpack{PathEnv: true, WorkingDir: true, CommandArray: true, NoShell: true}},
		{"0.10", Buildpack{PathEnv: true, WorkingDir: true, CommandArray: true, NoShell: true, TargetEnv: true}},
		{"0.11", Buildpack{PathEnv: true, WorkingDir: true, CommandArray: true, NoShell: true, TargetEnv: true, NoRequiresVersion: true}},
		{"0.12", Buildpack{PathEnv: true, WorkingDir: true, CommandArray: true, NoShell: true, TargetEnv: true, NoRequiresVersion: true, ExecEnv: true}},
	}
	for _, tc := range cases {
		t.Run(tc.api, func(t *testing.T) {
			got, err := ForBuildpack(tc.api, "bp")
			if err != nil {
				t.Fatal(err)
			}
			tc.want.Version = MustParse(tc.api)
			if got != tc.want {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// platform.md, Platform API Compatibility: an unsupported API fails with a typed error (exit 11/12 in the phases).
func TestUnsupportedAPIs(t *testing.T) {
	for _, v := range []string{"0.6", "0.13", "1.0"} {
		_, err := ForBuildpack(v, "example/bp@1.0.0")
		var ue *UnsupportedError
		if !errors.As(err, &ue) || ue.Kind != "buildpack" {
			t.Fatalf("ForBuildpack(%s) = %v, want UnsupportedError", v, err)
		}
		if got := err.Error(); got != "example/bp@1.0.0: buildpack API "+v+" is not supported (supported: 0.7 to 0.12)" {
			t.Errorf("message %q", got)
		}
	}
	if _, err := ForPlatform("0.16"); err == nil {
		t.Fatal("platform 0.16 accepted")
	}
	p, err := ForPlatform("")
	if err != nil || p.Version != PlatformMax || !p.ExecEnv {
		t.Fatalf("default platform = %+v, %v", p, err)
	}
	p, _ = ForPlatform("0.9")
	if p.OverridableArgs || p.RunToml {
		t.Fatalf("0.9 capabilities = %+v", p)
	}
}

func TestSupportedLists(t *testing.T) {
	bps := SupportedBuildpackAPIs()
	if len(bps) != 6 || bps[0] != "0.7" || bps[5] != "0.12" {
		t.Fatalf("buildpack APIs %v", bps)
	}
	if ps := SupportedPlatformAPIs(); len(ps) != 9 || ps[8] != "0.15" {
		t.Fatalf("platform APIs %v", ps)
	}
}
