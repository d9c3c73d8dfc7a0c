package testimages

import (
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/stack"
)

// platform.md, Build Image: build image User non-root, Env with CNB_USER_ID, CNB_GROUP_ID, PATH;
// run image with a different UID.
func TestBuildAndRun_Section4_3(t *testing.T) {
	build, run := BuildAndRun(t)
	for _, tc := range []struct {
		name    string
		img     v1.Image
		user    string
		wantEnv []string
		noEnv   []string
	}{
		{"build", build, "1000:1000", []string{"CNB_USER_ID=1000", "CNB_GROUP_ID=1000", "PATH=" + stack.DefaultPath}, nil},
		{"run", run, "1001:1000", []string{"PATH=" + stack.DefaultPath}, []string{"CNB_USER_ID=1000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := tc.img
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if cf.Config.User != tc.user {
				t.Errorf("User = %q, want %q", cf.Config.User, tc.user)
			}
			for _, e := range tc.wantEnv {
				if !slices.Contains(cf.Config.Env, e) {
					t.Errorf("Env %v lacks %s", cf.Config.Env, e)
				}
			}
			for _, e := range tc.noEnv {
				if slices.Contains(cf.Config.Env, e) {
					t.Errorf("Env %v has %s", cf.Config.Env, e)
				}
			}
			if got := cf.Config.Labels[platform.LabelDistroName]; got != "debian" {
				t.Errorf("distro name label = %q, want debian", got)
			}
			if got := cf.Config.Labels[platform.LabelDistroVersion]; got != "12" {
				t.Errorf("distro version label = %q, want 12", got)
			}
			if err := validate.Image(img, validate.Fast); err != nil {
				t.Errorf("validate: %v", err)
			}
		})
	}
}
