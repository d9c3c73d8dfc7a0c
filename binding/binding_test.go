package binding

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseVolume(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		in      string
		want    Volume
		wantErr string
	}{
		{in: dir + ":/etc/corp", want: Volume{Host: dir, Container: "/etc/corp"}},
		{in: dir + ":/etc/corp/:rw", want: Volume{Host: dir, Container: "/etc/corp", ReadWrite: true}},
		{in: dir + ":/platform/bindings/maven:ro", want: Volume{Host: dir, Container: "/platform/bindings/maven"}},
		{in: dir + ":/platform/bindings", want: Volume{Host: dir, Container: "/platform/bindings"}},
		{in: dir + ":/workspace/secret", wantErr: "managed by the lifecycle"},
		{in: dir + ":/layers", wantErr: "managed by the lifecycle"},
		{in: dir + ":/cnb/buildpacks", wantErr: "managed by the lifecycle"},
		{in: dir + ":/platform/env", wantErr: "managed by the lifecycle"},
		{in: dir + ":/platform", wantErr: "managed by the lifecycle"},
		{in: dir + ":/", wantErr: "hide the build image"},
		{in: dir + ":/workspace/../cnb", wantErr: "managed by the lifecycle"},
		{in: dir + ":relative", wantErr: "must be absolute"},
		{in: dir + ":/x:z", wantErr: `unknown option "z"`},
		{in: dir, wantErr: "want HOST:CONTAINER"},
		{in: filepath.Join(dir, "missing") + ":/x", wantErr: "host path"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseVolume(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "--volume "+tc.in) {
					t.Errorf("err = %v, want %q naming the flag", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestParseBinding(t *testing.T) {
	good := t.TempDir()
	os.WriteFile(filepath.Join(good, "type"), []byte("npmrc\n"), 0o644)
	untyped := t.TempDir()
	file := filepath.Join(good, "type")
	tests := []struct {
		in, wantErr string
	}{
		{in: "my-npm.1=" + good},
		{in: "My=" + good, wantErr: "lower-case"},
		{in: "..=" + good, wantErr: "lower-case"},
		{in: "a/b=" + good, wantErr: "lower-case"},
		{in: "npm=" + untyped, wantErr: "no `type` file"},
		{in: "npm=" + file, wantErr: "not a directory"},
		{in: "npm", wantErr: "want NAME=DIR"},
		{in: "npm=" + filepath.Join(good, "nope"), wantErr: "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			b, err := Parse(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v := b.Volume(); v.Container != "/platform/bindings/my-npm.1" || v.Host != good || v.ReadWrite {
				t.Errorf("volume %+v", v)
			}
		})
	}
}
