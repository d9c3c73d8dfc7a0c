package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/slipway/slipway/api"
	"github.com/slipway/slipway/buildpack"
	"github.com/slipway/slipway/platform"
)

// detectFx describes one fixture buildpack. Its bin/detect (bash) first records
// "<id>@<version>" in $TRACE/runs (TRACE comes from <platform>/env), then runs script.
// A fixture with order set is a composite and has no bin/.
type detectFx struct {
	id, version, api string
	info             string // extra [buildpack] keys
	tail             string // extra top-level TOML (targets, order)
	script           string
	order            string
}

func (f detectFx) ref() string { return f.id + "@" + f.version }

// writeDetectBuildpacks lays the fixtures out as <dir>/<escaped-id>/<version>/ (platform.md, Usage (default locations)).
func writeDetectBuildpacks(t *testing.T, dir string, fxs ...detectFx) {
	t.Helper()
	for _, f := range fxs {
		if f.version == "" {
			f.version = "1.0.0"
		}
		if f.api == "" {
			f.api = "0.12"
		}
		bp := filepath.Join(dir, buildpack.EscapedID(f.id), f.version)
		if err := os.MkdirAll(filepath.Join(bp, "bin"), 0o755); err != nil {
			t.Fatal(err)
		}
		desc := "api = \"" + f.api + "\"\n" + f.tail + "\n[buildpack]\nid = \"" + f.id + "\"\nversion = \"" + f.version +
			"\"\nhomepage = \"https://example.com/" + f.id + "\"\n" + f.info + "\n" + f.order
		if err := os.WriteFile(filepath.Join(bp, "buildpack.toml"), []byte(desc), 0o644); err != nil {
			t.Fatal(err)
		}
		if f.order != "" {
			continue
		}
		script := "#!/usr/bin/env bash\nset -euo pipefail\necho " + f.ref() + " >> \"$TRACE/runs\"\n" + f.script + "\n"
		if err := os.WriteFile(filepath.Join(bp, "bin", "detect"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bp, "bin", "build"), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// detectSetup writes fixtures and returns inputs for Detect and the trace dir.
func detectSetup(t *testing.T, order string, fxs ...detectFx) (DetectInputs, string) {
	t.Helper()
	root := t.TempDir()
	in := DetectInputs{
		AppDir:        filepath.Join(root, "app"),
		PlatformDir:   filepath.Join(root, "platform"),
		BuildpacksDir: filepath.Join(root, "buildpacks"),
		Environ:       os.Environ(),
		Target:        buildpack.Target{OS: "linux", Arch: "amd64"},
	}
	trace := filepath.Join(root, "trace")
	for _, d := range []string{in.AppDir, filepath.Join(in.PlatformDir, "env"), trace} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(in.PlatformDir, "env", "TRACE"), []byte(trace), 0o644); err != nil {
		t.Fatal(err)
	}
	writeDetectBuildpacks(t, in.BuildpacksDir, fxs...)
	var of platform.OrderFile
	if _, err := toml.Decode(order, &of); err != nil {
		t.Fatal(err)
	}
	in.Order = of.Order
	var err error
	if in.Platform, err = api.ForPlatform("0.15"); err != nil {
		t.Fatal(err)
	}
	log := &bytes.Buffer{}
	in.Log = log
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("detect log:\n%s", log)
		}
	})
	return in, trace
}

func groupRefs(g []buildpack.GroupElement) []string {
	var out []string
	for _, e := range g {
		out = append(out, e.ID+"@"+e.Version)
	}
	return out
}

func traceRuns(t *testing.T, trace string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(trace, "runs"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

const (
	fxPass = "exit 0"
	fxFail = "exit 100"
)

// planScript makes bin/detect write body as its plan ($2 works for every Buildpack API).
func planScript(body string) string { return "cat > \"$2\" <<'PLAN'\n" + body + "\nPLAN" }

// buildpack.md, Order Resolution; docs/spec-notes.md, Detection: composite expansion, optional composites, duplicates, groups.
func TestDetectOrderResolution(t *testing.T) {
	fxs := []detectFx{
		{id: "acme/a", script: fxPass},
		{id: "acme/b", script: fxPass},
		{id: "acme/d", script: fxPass},
		{id: "acme/f", script: fxFail},
		{id: "acme/x", script: fxFail},
		{id: "acme/opt-fail", script: fxFail},
		{id: "acme/comp", order: `[[order]]
[[order.group]]
id = "acme/a"
version = "1.0.0"
[[order.group]]
id = "acme/x"
version = "1.0.0"
[[order]]
[[order.group]]
id = "acme/b"
version = "1.0.0"
`},
		{id: "acme/comp-f", order: `[[order]]
[[order.group]]
id = "acme/f"
`},
	}
	tests := []struct {
		name      string
		order     string
		wantGroup []string
		wantRuns  []string
	}{
		{name: "composite expands depth-first into alternatives",
			order: `[[order]]
[[order.group]]
id = "acme/comp"
version = "1.0.0"
[[order.group]]
id = "acme/d"
version = "1.0.0"`,
			// group 1 is [a, x, d] (x fails), group 2 is [b, d].
			wantGroup: []string{"acme/b@1.0.0", "acme/d@1.0.0"},
			wantRuns:  []string{"acme/a@1.0.0", "acme/b@1.0.0", "acme/d@1.0.0", "acme/x@1.0.0"}},
		{name: "optional composite yields a copy without it",
			order: `[[order]]
[[order.group]]
id = "acme/comp-f"
optional = true
[[order.group]]
id = "acme/d"`,
			wantGroup: []string{"acme/d@1.0.0"},
			wantRuns:  []string{"acme/d@1.0.0", "acme/f@1.0.0"}},
		{name: "failing optional leaf is left out of the written group",
			order: `[[order]]
[[order.group]]
id = "acme/a"
[[order.group]]
id = "acme/opt-fail"
optional = true
[[order.group]]
id = "acme/d"`,
			wantGroup: []string{"acme/a@1.0.0", "acme/d@1.0.0"},
			wantRuns:  []string{"acme/a@1.0.0", "acme/d@1.0.0", "acme/opt-fail@1.0.0"}},
		{name: "an id appears at most once per group",
			order: `[[order]]
[[order.group]]
id = "acme/a"
[[order.group]]
id = "acme/b"
[[order.group]]
id = "acme/a"`,
			wantGroup: []string{"acme/a@1.0.0", "acme/b@1.0.0"},
			wantRuns:  []string{"acme/a@1.0.0", "acme/b@1.0.0"}},
		{name: "detect runs once per id@version across groups",
			order: `[[order]]
[[order.group]]
id = "acme/a"
[[order.group]]
id = "acme/f"
[[order]]
[[order.group]]
id = "acme/a"
[[order.group]]
id = "acme/f"
optional = true
[[order.group]]
id = "acme/b"`,
			wantGroup: []string{"acme/a@1.0.0", "acme/b@1.0.0"},
			wantRuns:  []string{"acme/a@1.0.0", "acme/b@1.0.0", "acme/f@1.0.0"}},
		{name: "first passing group wins and later groups are not detected",
			order: `[[order]]
[[order.group]]
id = "acme/d"
[[order]]
[[order.group]]
id = "acme/a"`,
			wantGroup: []string{"acme/d@1.0.0"},
			wantRuns:  []string{"acme/d@1.0.0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, trace := detectSetup(t, tc.order, fxs...)
			res, err := Detect(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			if got := groupRefs(res.Group.Group); !reflect.DeepEqual(got, tc.wantGroup) {
				t.Errorf("group %v, want %v", got, tc.wantGroup)
			}
			runs := traceRuns(t, trace)
			// Runs within a group are parallel: compare as sorted sets, and a
			// repeated entry means detect ran twice.
			sortStrings(runs)
			if !reflect.DeepEqual(runs, tc.wantRuns) {
				t.Errorf("detect ran %v, want %v", runs, tc.wantRuns)
			}
			for _, e := range res.Group.Group {
				if e.API != "0.12" || e.Homepage != "https://example.com/"+e.ID || e.Optional {
					t.Errorf("group element %+v: want api, homepage and no optional", e)
				}
			}
		})
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// buildpack.md, Order Resolution; platform.md, plan.toml (TOML): plan trials and the plan written.
func TestDetectPlanResolution(t *testing.T) {
	two := `[[order]]
[[order.group]]
id = "acme/a"
[[order.group]]
id = "acme/b"
`
	three := two + `[[order.group]]
id = "acme/c"
`
	optB := `[[order]]
[[order.group]]
id = "acme/a"
[[order.group]]
id = "acme/b"
optional = true
`
	req := func(name string, md map[string]any) buildpack.Require {
		return buildpack.Require{Name: name, Metadata: md}
	}
	prov := func(ids ...string) []buildpack.GroupElement {
		var out []buildpack.GroupElement
		for _, id := range ids {
			out = append(out, buildpack.GroupElement{ID: id, Version: "1.0.0"})
		}
		return out
	}
	tests := []struct {
		name      string
		order     string
		fxs       []detectFx
		wantGroup []string
		wantPlan  []buildpack.PlanEntry
		wantErr   string // substring of the NoGroupError report
	}{
		{name: "empty plans pass trivially", order: two,
			fxs:       []detectFx{{id: "acme/a", script: fxPass}, {id: "acme/b", script: fxPass}},
			wantGroup: []string{"acme/a@1.0.0", "acme/b@1.0.0"}},
		{name: "or alternative chosen when primary leaves a provide unused", order: two,
			fxs: []detectFx{
				{id: "acme/a", script: planScript(`[[provides]]
name = "node"
[[or]]
[[or.provides]]
name = "yarn"
[[or.requires]]
name = "yarn"
[or.requires.metadata]
from = "a"`)},
				{id: "acme/b", script: planScript(`[[requires]]
name = "yarn"
[requires.metadata]
from = "b"`)},
			},
			wantGroup: []string{"acme/a@1.0.0", "acme/b@1.0.0"},
			wantPlan: []buildpack.PlanEntry{{Providers: prov("acme/a"),
				Requires: []buildpack.Require{req("yarn", map[string]any{"from": "a"}), req("yarn", map[string]any{"from": "b"})}}}},
		{name: "providers are all seen before each require", order: three,
			fxs: []detectFx{
				{id: "acme/a", script: planScript("[[provides]]\nname = \"x\"")},
				{id: "acme/b", script: planScript("[[provides]]\nname = \"x\"\n[[requires]]\nname = \"x\"")},
				{id: "acme/c", script: planScript("[[requires]]\nname = \"x\"\n[requires.metadata]\nversion = \"2\"")},
			},
			wantGroup: []string{"acme/a@1.0.0", "acme/b@1.0.0", "acme/c@1.0.0"},
			wantPlan: []buildpack.PlanEntry{{Providers: prov("acme/a", "acme/b"),
				Requires: []buildpack.Require{req("x", nil), req("x", map[string]any{"version": "2"})}}}},
		{name: "unmet require fails a required buildpack", order: two,
			fxs: []detectFx{
				{id: "acme/a", script: fxPass},
				{id: "acme/b", script: planScript("[[requires]]\nname = \"ghost\"")},
			},
			wantErr: "acme/b@1.0.0 requires ghost, which no buildpack before it provides"},
		{name: "require before its provider fails", order: two,
			fxs: []detectFx{
				{id: "acme/a", script: planScript("[[requires]]\nname = \"x\"")},
				{id: "acme/b", script: planScript("[[provides]]\nname = \"x\"")},
			},
			wantErr: "acme/a@1.0.0 requires x"},
		{name: "optional buildpack breaking the plan is dropped", order: optB,
			fxs: []detectFx{
				{id: "acme/a", script: planScript("[[provides]]\nname = \"x\"\n[[requires]]\nname = \"x\"")},
				{id: "acme/b", script: planScript("[[requires]]\nname = \"ghost\"")},
			},
			wantGroup: []string{"acme/a@1.0.0"},
			wantPlan:  []buildpack.PlanEntry{{Providers: prov("acme/a"), Requires: []buildpack.Require{req("x", nil)}}}},
		{name: "optional buildpack with unused provide is dropped", order: optB,
			fxs: []detectFx{
				{id: "acme/a", script: fxPass},
				{id: "acme/b", script: planScript("[[provides]]\nname = \"unused\"")},
			},
			wantGroup: []string{"acme/a@1.0.0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, _ := detectSetup(t, tc.order, tc.fxs...)
			res, err := Detect(context.Background(), in)
			if tc.wantErr != "" {
				var ng *NoGroupError
				if !errors.As(err, &ng) {
					t.Fatalf("got %v, want *NoGroupError", err)
				}
				if platform.ExitCode(err) != platform.CodeDetectFailNoGroup {
					t.Errorf("exit code %d, want 20", platform.ExitCode(err))
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("report does not contain %q:\n%s", tc.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := groupRefs(res.Group.Group); !reflect.DeepEqual(got, tc.wantGroup) {
				t.Errorf("group %v, want %v", got, tc.wantGroup)
			}
			if len(res.Plan.Entries) != 0 || len(tc.wantPlan) != 0 {
				if !reflect.DeepEqual(res.Plan.Entries, tc.wantPlan) {
					t.Errorf("plan %+v\nwant %+v", res.Plan.Entries, tc.wantPlan)
				}
			}
		})
	}
}

// platform.md, detector; buildpack.md, Phase #1: Detection (targets); buildpack.md, Order Resolution: the report says, per group and buildpack, why.
func TestDetectNoGroupError(t *testing.T) {
	fxs := []detectFx{
		{id: "acme/a", script: "echo 'no package.json found'; exit 100"},
		{id: "acme/b", script: "echo boom >&2; exit 7"},
		{id: "acme/arm", tail: "[[targets]]\nos = \"linux\"\narch = \"arm64\"\n", script: fxPass},
		{id: "acme/test-only", info: "exec-env = [\"test\"]", script: fxPass},
	}
	t.Run("fail, error, mismatch and skip give 21 and a full report", func(t *testing.T) {
		in, trace := detectSetup(t, `[[order]]
[[order.group]]
id = "acme/a"
[[order.group]]
id = "acme/b"
optional = true
[[order]]
[[order.group]]
id = "acme/arm"
[[order]]
[[order.group]]
id = "acme/test-only"
[[order]]
[[order.group]]
id = "acme/a"`, fxs...)
		_, err := Detect(context.Background(), in)
		var ng *NoGroupError
		if !errors.As(err, &ng) {
			t.Fatalf("got %v, want *NoGroupError", err)
		}
		if code := platform.ExitCode(err); code != platform.CodeDetectFailWithError {
			t.Errorf("exit code %d, want 21", code)
		}
		if len(ng.Groups) != 4 {
			t.Errorf("%d groups reported, want 4", len(ng.Groups))
		}
		msg := err.Error()
		for _, want := range []string{
			"4 groups tried",
			"group 1:\n  fail    acme/a@1.0.0: exit 100\n      | no package.json found",
			"error   acme/b@1.0.0 (optional): bin/detect of acme/b@1.0.0 exited with 7",
			"      | boom",
			"error   acme/arm@1.0.0: not detected: target mismatch (run image linux/amd64; buildpack supports linux/arm64)",
			"skipped acme/test-only@1.0.0: not detected: exec-env \"production\" is not in [test]",
			"group 4:\n  fail    acme/a@1.0.0: exit 100 (output above)",
		} {
			if !strings.Contains(msg, want) {
				t.Errorf("report lacks %q:\n%s", want, msg)
			}
		}
		// Neither the mismatched nor the skipped buildpack ran bin/detect.
		runs := traceRuns(t, trace)
		sortStrings(runs)
		if want := []string{"acme/a@1.0.0", "acme/b@1.0.0"}; !reflect.DeepEqual(runs, want) {
			t.Errorf("detect ran %v, want %v", runs, want)
		}
	})
	t.Run("only failures give 20", func(t *testing.T) {
		in, _ := detectSetup(t, "[[order]]\n[[order.group]]\nid = \"acme/a\"\n", fxs...)
		_, err := Detect(context.Background(), in)
		if code := platform.ExitCode(err); code != platform.CodeDetectFailNoGroup {
			t.Errorf("exit code %d (%v), want 20", code, err)
		}
	})
	t.Run("exec-env passes before Platform 0.15", func(t *testing.T) {
		in, _ := detectSetup(t, "[[order]]\n[[order.group]]\nid = \"acme/test-only\"\n", fxs...)
		in.Platform, _ = api.ForPlatform("0.14")
		if _, err := Detect(context.Background(), in); err != nil {
			t.Errorf("Detect: %v", err)
		}
	})
	t.Run("exec-env matching CNB_EXEC_ENV runs", func(t *testing.T) {
		in, _ := detectSetup(t, "[[order]]\n[[order.group]]\nid = \"acme/test-only\"\n", fxs...)
		in.ExecEnv = "test"
		if _, err := Detect(context.Background(), in); err != nil {
			t.Errorf("Detect: %v", err)
		}
	})
}

// platform.md, Platform API Compatibility; platform.md, detector: descriptor problems stop detection with 12 or 22.
func TestDetectDescriptorErrors(t *testing.T) {
	one := "[[order]]\n[[order.group]]\nid = \"acme/a\"\n"
	tests := []struct {
		name     string
		fxs      []detectFx
		order    string
		wantCode int
		wantErr  []string
	}{
		{name: "malformed buildpack.toml names file and line", order: one,
			fxs:      []detectFx{{id: "acme/a", info: "clear-env = yes", script: fxPass}},
			wantCode: platform.CodeDetectError,
			wantErr:  []string{filepath.Join("acme_a", "1.0.0", "buildpack.toml"), "line 7"}},
		{name: "unsupported buildpack API", order: one,
			fxs:      []detectFx{{id: "acme/a", api: "0.6", script: fxPass}},
			wantCode: platform.CodeIncompatibleBuildpack,
			wantErr:  []string{"buildpack API 0.6 is not supported"}},
		{name: "missing buildpack", order: "[[order]]\n[[order.group]]\nid = \"acme/none\"\nversion = \"1.0.0\"\n",
			wantCode: platform.CodeDetectError, wantErr: []string{"acme_none", "does not exist"}},
		{name: "composite including itself", order: "[[order]]\n[[order.group]]\nid = \"acme/loop\"\n",
			fxs:      []detectFx{{id: "acme/loop", order: "[[order]]\n[[order.group]]\nid = \"acme/loop\"\n"}},
			wantCode: platform.CodeDetectError, wantErr: []string{"includes itself"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, _ := detectSetup(t, tc.order, tc.fxs...)
			_, err := Detect(context.Background(), in)
			if err == nil {
				t.Fatal("Detect succeeded, want error")
			}
			if code := platform.ExitCode(err); code != tc.wantCode {
				t.Errorf("exit code %d, want %d (%v)", code, tc.wantCode, err)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// platform.md, Files: the shape of group.toml and plan.toml.
func TestWriteDetectResultShape(t *testing.T) {
	in, _ := detectSetup(t, `[[order]]
[[order.group]]
id = "acme/a"
[[order.group]]
id = "acme/b"
optional = true`,
		detectFx{id: "acme/a", api: "0.7", script: planScript("[[provides]]\nname = \"x\"")},
		detectFx{id: "acme/b", script: planScript("[[requires]]\nname = \"x\"\n[requires.metadata]\nv = \"1\"")},
	)
	res, err := Detect(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	groupPath, planPath := filepath.Join(dir, "group.toml"), filepath.Join(dir, "plan.toml")
	if err := WriteDetectResult(groupPath, planPath, res); err != nil {
		t.Fatal(err)
	}
	var group, plan map[string]any
	if _, err := toml.DecodeFile(groupPath, &group); err != nil {
		t.Fatal(err)
	}
	if _, err := toml.DecodeFile(planPath, &plan); err != nil {
		t.Fatal(err)
	}
	wantGroup := map[string]any{"group": []map[string]any{
		{"id": "acme/a", "version": "1.0.0", "api": "0.7", "homepage": "https://example.com/acme/a"},
		{"id": "acme/b", "version": "1.0.0", "api": "0.12", "homepage": "https://example.com/acme/b"},
	}}
	wantPlan := map[string]any{"entries": []map[string]any{{
		"providers": []map[string]any{{"id": "acme/a", "version": "1.0.0"}},
		"requires":  []map[string]any{{"name": "x", "metadata": map[string]any{"v": "1"}}},
	}}}
	if !reflect.DeepEqual(group, wantGroup) {
		t.Errorf("group.toml = %#v\nwant %#v", group, wantGroup)
	}
	if !reflect.DeepEqual(plan, wantPlan) {
		t.Errorf("plan.toml = %#v\nwant %#v", plan, wantPlan)
	}
}

// A cancelled context stops detection with a detect error (22), not a group report.
func TestDetectCancelled(t *testing.T) {
	in, _ := detectSetup(t, "[[order]]\n[[order.group]]\nid = \"acme/a\"\n", detectFx{id: "acme/a", script: fxPass})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Detect(ctx, in)
	if !errors.Is(err, context.Canceled) || platform.ExitCode(err) != platform.CodeDetectError {
		t.Errorf("got %v (exit %d), want context.Canceled with exit 22", err, platform.ExitCode(err))
	}
}
