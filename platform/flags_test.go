package platform

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// platform.md, Inputs of each phase: which flags each phase defines at which Platform API,
// and the error a flag the API does not define gets.
func TestParseInputsFlagsPerPlatformAPI(t *testing.T) {
	cases := []struct {
		name  string
		phase Phase
		api   string
		args  []string
		code  int // 0: accepted
		want  string
	}{
		{"exporter -run before 0.12", Exporter, "0.11", []string{"-run", "/cnb/run.toml", "img"}, CodeUsage, "flag provided but not defined: -run (-run is an exporter input from Platform API 0.12, and this is 0.11; CNB_PLATFORM_API=0.11)"},
		{"exporter -run from 0.12", Exporter, "0.12", []string{"-run", "/cnb/run.toml", "img"}, 0, ""},
		{"analyzer -launch-cache before 0.9", Analyzer, "0.8", []string{"-launch-cache", "/lc", "img"}, CodeUsage, "-launch-cache"},
		{"analyzer -launch-cache from 0.9", Analyzer, "0.9", []string{"-launch-cache", "/lc", "img"}, 0, ""},
		{"analyzer -stack before 0.12", Analyzer, "0.11", []string{"-stack", "/cnb/stack.toml", "img"}, 0, ""},
		{"analyzer -stack from 0.12", Analyzer, "0.12", []string{"-stack", "/cnb/stack.toml", "img"}, CodeUsage, "-stack is an analyzer input only before Platform API 0.12, and this is 0.12"},
		{"analyzer -cache-dir (gone since 0.7)", Analyzer, "0.15", []string{"-cache-dir", "/c", "img"}, CodeUsage, "-cache-dir"},
		{"restorer -daemon before 0.12", Restorer, "0.11", []string{"-daemon"}, CodeUsage, "-daemon"},
		{"restorer -daemon from 0.12", Restorer, "0.12", []string{"-daemon"}, 0, ""},
		{"restorer -run before 0.14", Restorer, "0.13", []string{"-run", "/r"}, CodeUsage, "-run"},
		{"restorer -run from 0.14", Restorer, "0.14", []string{"-run", "/r"}, 0, ""},
		{"-insecure-registry before 0.13", Analyzer, "0.12", []string{"-insecure-registry", "r:5000", "img"}, CodeUsage, "-insecure-registry"},
		{"-insecure-registry from 0.13", Analyzer, "0.13", []string{"-insecure-registry", "r:5000", "img"}, 0, ""},
		{"builder -analyzed before 0.12", Builder, "0.11", []string{"-analyzed", "/a"}, CodeUsage, "-analyzed"},
		{"builder -analyzed from 0.12", Builder, "0.12", []string{"-analyzed", "/a"}, 0, ""},
		{"detector -build-config before 0.11", Detector, "0.10", []string{"-build-config", "/b"}, CodeUsage, "-build-config"},
		{"rebaser -previous-image before 0.11", Rebaser, "0.10", []string{"-previous-image", "p", "img"}, CodeUsage, "-previous-image"},
		{"rebaser -force from 0.12", Rebaser, "0.12", []string{"-force", "img"}, 0, ""},
		{"creator -skip-restore", Creator, "0.7", []string{"-skip-restore", "img"}, 0, ""},
		{"creator has no -group", Creator, "0.15", []string{"-group", "/g", "img"}, CodeUsage, "-group is not a creator input at any Platform API"},
		{"unknown flag", Builder, "0.15", []string{"-nope"}, CodeUsage, "flag provided but not defined: -nope (-nope is not a builder input at any Platform API; CNB_PLATFORM_API=0.15)"},
		{"-log-level and -no-color everywhere", Rebaser, "0.7", []string{"-log-level", "debug", "-no-color", "img"}, 0, ""},
		{"bad log level", Detector, "0.15", []string{"-log-level", "loud"}, CodeInvalidArgs, `-log-level "loud"`},
		{"unsupported API", Detector, "0.6", nil, CodeIncompatiblePlatform, "platform API 0.6 is not supported"},
		{"-extended refused", Exporter, "0.12", []string{"-extended", "/layers/extended", "img"}, CodeInvalidArgs, "image extensions are not supported"},
		{"-generated refused", Restorer, "0.12", []string{"-generated", "/layers/generated"}, CodeInvalidArgs, "image extensions are not supported"},
		{"exporter -run-image refused", Exporter, "0.15", []string{"-run-image", "run", "img"}, CodeInvalidArgs, "run image comes from analyzed.toml"},
		{"-daemon with -layout", Exporter, "0.15", []string{"-daemon", "-layout", "-layout-dir", "/l", "img"}, CodeInvalidArgs, "exclude each other"},
		{"-layout without dir", Analyzer, "0.12", []string{"-layout", "img"}, CodeInvalidArgs, "-layout needs -layout-dir"},
		{"tag on another registry", Analyzer, "0.15", []string{"-tag", "b.example/app:2", "a.example/app"}, CodeInvalidArgs, "is not on the registry of a.example/app"},
		{"tag on another registry with -daemon", Analyzer, "0.15", []string{"-daemon", "-tag", "b.example/app:2", "a.example/app"}, 0, ""},
		{"analyzer two images", Analyzer, "0.15", []string{"a", "b"}, CodeInvalidArgs, "received 2 arguments, but expected 1"},
		{"detector stray argument", Detector, "0.15", []string{"x"}, CodeInvalidArgs, `unexpected arguments ["x"]`},
		{"exporter without image", Exporter, "0.15", nil, CodeInvalidArgs, "at least one image argument is required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stderr strings.Builder
			_, err := ParseInputs(tc.phase, tc.args, Env{"CNB_PLATFORM_API=" + tc.api}, &stderr)
			if tc.code == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if got := ExitCode(err); got != tc.code || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("exit %d (want %d): %v", got, tc.code, err)
			}
		})
	}
}

// platform.md, Inputs: flags win over CNB_* variables, which win over defaults; paths under
// the layers directory follow -layers.
func TestParseInputsPrecedence(t *testing.T) {
	layers := t.TempDir()
	cases := []struct {
		name  string
		phase Phase
		env   Env
		args  []string
		check func(t *testing.T, in *Inputs)
	}{
		{"defaults", Detector, nil, nil, func(t *testing.T, in *Inputs) {
			want := []string{"/workspace", "/layers", "/platform", "/cnb/buildpacks", "/layers/group.toml", "/layers/plan.toml", "/layers/analyzed.toml", DefaultOrderPath, "info", "production"}
			got := []string{in.AppDir, in.LayersDir, in.PlatformDir, in.BuildpacksDir, in.GroupPath, in.PlanPath, in.AnalyzedPath, in.OrderPath, in.LogLevel, in.ExecEnv}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got %q, want %q", got, want)
			}
		}},
		{"layers flag moves the files under it", Exporter, nil, []string{"-layers", layers, "img"}, func(t *testing.T, in *Inputs) {
			if in.GroupPath != filepath.Join(layers, "group.toml") || in.ReportPath != filepath.Join(layers, "report.toml") || in.ProjectMetadataPath != filepath.Join(layers, "project-metadata.toml") {
				t.Fatalf("%s %s %s", in.GroupPath, in.ReportPath, in.ProjectMetadataPath)
			}
		}},
		{"env layers", Detector, Env{"CNB_LAYERS_DIR=" + layers}, nil, func(t *testing.T, in *Inputs) {
			if in.PlanPath != filepath.Join(layers, "plan.toml") {
				t.Fatal(in.PlanPath)
			}
		}},
		{"flag beats env", Detector, Env{"CNB_APP_DIR=/from-env", "CNB_GROUP_PATH=/env/group.toml"}, []string{"-app", "/from-flag"}, func(t *testing.T, in *Inputs) {
			if in.AppDir != "/from-flag" || in.GroupPath != "/env/group.toml" {
				t.Fatal(in.AppDir, in.GroupPath)
			}
		}},
		{"order in layers when present", Detector, nil, []string{"-layers", layers}, func(t *testing.T, in *Inputs) {
			if in.OrderPath != filepath.Join(layers, "order.toml") {
				t.Fatal(in.OrderPath)
			}
		}},
		{"layout from env", Exporter, Env{"CNB_USE_LAYOUT=true", "CNB_LAYOUT_DIR=/oci"}, []string{"img"}, func(t *testing.T, in *Inputs) {
			if !in.UseLayout || in.LayoutDir != "/oci" {
				t.Fatal(in.UseLayout, in.LayoutDir)
			}
		}},
		{"daemon and launch cache from env", Exporter, Env{"CNB_USE_DAEMON=1", "CNB_LAUNCH_CACHE_DIR=/lc"}, []string{"img"}, func(t *testing.T, in *Inputs) {
			if !in.UseDaemon || in.LaunchCacheDir != "/lc" {
				t.Fatal(in.UseDaemon, in.LaunchCacheDir)
			}
		}},
		{"skip-restore from env", Creator, Env{"CNB_SKIP_RESTORE=true"}, []string{"img"}, func(t *testing.T, in *Inputs) {
			if !in.SkipLayers {
				t.Fatal("CNB_SKIP_RESTORE ignored")
			}
		}},
		{"insecure registries: flag replaces env", Analyzer, Env{"CNB_INSECURE_REGISTRIES=a:1, b:2"}, []string{"-insecure-registry", "c:3", "-insecure-registry", "d:4", "img"}, func(t *testing.T, in *Inputs) {
			if !reflect.DeepEqual(in.InsecureRegistries, []string{"c:3", "d:4"}) {
				t.Fatal(in.InsecureRegistries)
			}
		}},
		{"insecure registries from env", Analyzer, Env{"CNB_INSECURE_REGISTRIES=a:1, b:2"}, []string{"img"}, func(t *testing.T, in *Inputs) {
			if !reflect.DeepEqual(in.InsecureRegistries, []string{"a:1", "b:2"}) {
				t.Fatal(in.InsecureRegistries)
			}
		}},
		{"uid and gid: flag beats env", Exporter, Env{"CNB_USER_ID=1000", "CNB_GROUP_ID=1000"}, []string{"-uid", "1001", "img"}, func(t *testing.T, in *Inputs) {
			if in.UID != 1001 || in.GID != 1000 || !in.Given("uid") || !in.Given("gid") {
				t.Fatal(in.UID, in.GID)
			}
		}},
		{"exporter images and creator tags", Exporter, nil, []string{"r/app:1", "r/app:2", "r/app:3"}, func(t *testing.T, in *Inputs) {
			if got := in.DestinationImages(); !reflect.DeepEqual(got, []string{"r/app:1", "r/app:2", "r/app:3"}) {
				t.Fatal(got)
			}
		}},
		{"analyzer tags", Analyzer, nil, []string{"-tag", "r/app:2", "r/app:1"}, func(t *testing.T, in *Inputs) {
			if got := in.DestinationImages(); !reflect.DeepEqual(got, []string{"r/app:1", "r/app:2"}) {
				t.Fatal(got)
			}
		}},
	}
	if err := os.WriteFile(filepath.Join(layers, "order.toml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in, err := ParseInputs(tc.phase, tc.args, tc.env, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, in)
		})
	}
}

func TestParseInputsHelpAndVersion(t *testing.T) {
	var usage strings.Builder
	if _, err := ParseInputs(Exporter, []string{"-h"}, Env{"CNB_PLATFORM_API=0.11"}, &usage); !errors.Is(err, ErrHelp) {
		t.Fatal(err)
	}
	if !strings.Contains(usage.String(), "Platform API 0.11") || strings.Contains(usage.String(), "-layout-dir") || !strings.Contains(usage.String(), "-launch-cache") {
		t.Fatalf("usage lists other flags than the exporter's at 0.11:\n%s", usage.String())
	}
	if _, err := ParseInputs(Detector, []string{"-version"}, nil, io.Discard); !errors.Is(err, ErrVersion) {
		t.Fatal(err)
	}
}
