package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/slipway/slipway/api"
	"github.com/slipway/slipway/buildpack"
	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/tomlfile"
)

// DetectInputs are the detector's inputs (platform.md, detector).
type DetectInputs struct {
	// ProcessTime, when set, receives the time spent in bin/detect.
	ProcessTime                                        *ProcessTime
	AppDir, PlatformDir, BuildpacksDir, BuildConfigDir string
	Order                                              buildpack.Order
	// Target is the run image's target; empty fields are unknown and match anything.
	Target buildpack.Target
	// ExecEnv is CNB_EXEC_ENV; empty means "production" (docs/spec-notes.md, API versions).
	ExecEnv  string
	Platform api.Platform
	// Environ is the platform process environment; only the include-list reaches
	// buildpacks (docs/spec-notes.md, Build environment).
	Environ []string
	// Log receives progress and debug lines, including each bin/detect's output; nil discards.
	Log io.Writer
	// Parallel bounds the bin/detect processes run at once within a group; 0 means the
	// number of CPUs (at most 8).
	Parallel int
}

// DetectResult is what the detector writes: group.toml and plan.toml (platform.md, Files).
type DetectResult struct {
	Group platform.GroupFile
	Plan  platform.PlanFile
}

// WriteDetectResult writes group.toml and plan.toml atomically.
func WriteDetectResult(groupPath, planPath string, r *DetectResult) error {
	if err := tomlfile.Write(groupPath, r.Group); err != nil {
		return fmt.Errorf("write group: %w", err)
	}
	if err := tomlfile.Write(planPath, r.Plan); err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	return nil
}

// Detect resolves the order (buildpack.md, Order Resolution): it expands composite buildpacks, runs
// bin/detect once per id@version, and returns the first group whose members pass and whose
// build plan resolves. When no group passes the error is a *NoGroupError, carrying exit code
// 20 or 21 (platform.md, detector); a buildpack with an unsupported API gives 12, other failures 22.
func Detect(ctx context.Context, in DetectInputs) (*DetectResult, error) {
	if in.ExecEnv == "" {
		in.ExecEnv = "production"
	}
	if strings.Contains(in.ExecEnv, "/") {
		return nil, platform.NewError(platform.CodeInvalidArgs,
			fmt.Errorf("CNB_EXEC_ENV %q must not contain '/'", in.ExecEnv))
	}
	if in.Parallel <= 0 {
		in.Parallel = min(runtime.NumCPU(), 8)
	}
	log := in.Log
	if log == nil {
		log = io.Discard
	}
	d := &detector{
		in:     in,
		lookup: buildpack.NewLookup(in.BuildpacksDir),
		log:    &detectLogWriter{w: log},
		runs:   map[string]*detectRun{},
	}

	var (
		report NoGroupError
		found  *DetectResult
	)
	err := d.expand(in.Order, func(group []member) (bool, error) {
		if err := ctx.Err(); err != nil {
			return true, err
		}
		res, gr := d.tryGroup(ctx, group)
		if err := ctx.Err(); err != nil {
			return true, err
		}
		if res != nil {
			found = res
			return true, nil
		}
		report.Groups = append(report.Groups, gr)
		return false, nil
	})
	if err != nil {
		var unsupported *api.UnsupportedError
		if errors.As(err, &unsupported) {
			return nil, platform.NewError(platform.CodeIncompatibleBuildpack, err)
		}
		return nil, platform.NewError(platform.CodeDetectError, fmt.Errorf("detect: %w", err))
	}
	if found != nil {
		return found, nil
	}
	code := platform.CodeDetectFailNoGroup
	if report.Errored() {
		code = platform.CodeDetectFailWithError
	}
	return nil, platform.NewError(code, &report)
}

type detector struct {
	in     DetectInputs
	lookup *buildpack.Lookup
	log    io.Writer

	mu   sync.Mutex
	runs map[string]*detectRun // by id@version: bin/detect runs at most once (docs/spec-notes.md, Detection)
}

// member is one leaf buildpack of an expanded group.
type member struct {
	desc     *buildpack.Descriptor
	optional bool
}

func (m member) ref() string { return m.desc.Ref() }

// pending is a group element still to be expanded, with the composites it came from (to
// refuse cycles).
type pending struct {
	el      buildpack.GroupElement
	parents []string
}

// expand walks order depth-first, left to right (buildpack.md, Order Resolution) and calls yield with
// each group of leaf buildpacks until yield says stop. A composite entry multiplies into one
// alternative per group of its order, then, if optional, one without it. An optional leaf
// does not need its own copy: a failing optional member is dropped from the written group and
// from plan trials, so the copy would resolve to the same result. Later duplicates of an id
// are skipped (docs/spec-notes.md, Detection).
func (d *detector) expand(order buildpack.Order, yield func([]member) (bool, error)) error {
	for _, g := range order {
		next := make([]pending, 0, len(g.Group))
		for _, el := range g.Group {
			next = append(next, pending{el: el})
		}
		if stop, err := d.walk(nil, next, yield); stop || err != nil {
			return err
		}
	}
	return nil
}

// walk expands the elements still pending after the members already placed in prefix.
func (d *detector) walk(prefix []member, rest []pending, yield func([]member) (bool, error)) (bool, error) {
	if len(rest) == 0 {
		if len(prefix) == 0 {
			return false, nil
		}
		return yield(prefix)
	}
	p, rest := rest[0], rest[1:]
	desc, err := d.lookup.Find(p.el.ID, p.el.Version)
	if err != nil {
		return true, err
	}
	if desc.IsComposite() {
		if slices.Contains(p.parents, desc.Ref()) {
			return true, fmt.Errorf("composite buildpack %s includes itself (via %s); fix its [[order]]",
				desc.Ref(), strings.Join(p.parents, " → "))
		}
		parents := append(slices.Clone(p.parents), desc.Ref())
		for _, g := range desc.Order {
			next := make([]pending, 0, len(g.Group)+len(rest))
			for _, el := range g.Group {
				next = append(next, pending{el: el, parents: parents})
			}
			next = append(next, rest...)
			if stop, err := d.walk(prefix, next, yield); stop || err != nil {
				return stop, err
			}
		}
		if p.el.Optional {
			return d.walk(prefix, rest, yield)
		}
		return false, nil
	}
	for _, m := range prefix {
		if m.desc.Buildpack.ID == desc.Buildpack.ID {
			return d.walk(prefix, rest, yield)
		}
	}
	next := append(slices.Clip(prefix), member{desc: desc, optional: p.el.Optional})
	return d.walk(next, rest, yield)
}

// detectRun is the cached outcome for one id@version, shared by every group containing it.
type detectRun struct {
	once sync.Once
	out  memberOutcome
}

// memberOutcome is a detect outcome plus the reasons we may not have run bin/detect at all.
type memberOutcome struct {
	buildpack.DetectOutcome
	skipped  string // exec-env excludes it (buildpack.md, Order Resolution)
	mismatch string // no target matches the run image (buildpack.md, Phase #1: Detection (targets))
}

// tryGroup detects every member of group (in parallel, each id@version once) and resolves
// the plan. It returns the result when the group passes, else the group's report.
func (d *detector) tryGroup(ctx context.Context, group []member) (*DetectResult, GroupReport) {
	outs := make([]memberOutcome, len(group))
	sem := make(chan struct{}, d.in.Parallel)
	var wg sync.WaitGroup
	for i, m := range group {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			outs[i] = d.run(ctx, m)
		}()
	}
	wg.Wait()

	report := GroupReport{}
	var passing []member
	var plans []buildpack.DetectPlan
	var failed []string // required members that did not pass
	for i, m := range group {
		o := outs[i]
		mr := MemberReport{ID: m.desc.Buildpack.ID, Version: m.desc.Buildpack.Version, Optional: m.optional,
			ExitCode: o.ExitCode, Output: o.Output, Err: o.Err}
		switch {
		case o.skipped != "":
			mr.Status, mr.Detail = StatusSkipped, o.skipped
		case o.mismatch != "":
			// A non-optional mismatch is an error (exit 21), an optional one a plain fail (docs/spec-notes.md, Target matching).
			mr.Status, mr.Detail = StatusFail, o.mismatch
			if !m.optional {
				mr.Status = StatusError
				mr.Err = errors.New(o.mismatch)
			}
		case o.Status == buildpack.DetectPass:
			mr.Status = StatusPass
			passing = append(passing, m)
			plans = append(plans, o.Plan)
		case o.Status == buildpack.DetectFail:
			mr.Status, mr.Detail = StatusFail, fmt.Sprintf("exit %d", o.ExitCode)
		default:
			mr.Status = StatusError
			if o.Err != nil {
				mr.Detail = o.Err.Error()
			}
		}
		if !m.optional && mr.Status != StatusPass && mr.Status != StatusSkipped {
			failed = append(failed, m.ref())
		}
		report.Members = append(report.Members, mr)
	}
	d.logGroup(report)
	switch {
	case len(failed) > 0:
		report.Reason = "required " + detectPlural(len(failed), "buildpack", "buildpacks") + " " +
			strings.Join(failed, ", ") + " did not pass"
		return nil, report
	case len(passing) == 0:
		report.Reason = "no buildpack passed"
		return nil, report
	}

	trial, entries, err := d.resolvePlan(passing, plans)
	if err != nil {
		report.Reason = err.Error()
		fmt.Fprintf(d.log, "group failed: %v\n", err)
		return nil, report
	}
	res := &DetectResult{Plan: platform.PlanFile{Entries: entries}}
	for _, m := range trial {
		res.Group.Group = append(res.Group.Group, buildpack.GroupElement{
			ID: m.desc.Buildpack.ID, Version: m.desc.Buildpack.Version,
			API: m.desc.API, Homepage: m.desc.Buildpack.Homepage,
		})
	}
	fmt.Fprintf(d.log, "%d of %d buildpacks participating\n", len(trial), len(group))
	for _, m := range trial {
		fmt.Fprintf(d.log, "%s %s\n", m.desc.Buildpack.ID, m.desc.Buildpack.Version)
	}
	return res, report
}

// run returns the outcome of m's bin/detect, running it only the first time (docs/spec-notes.md, Detection).
func (d *detector) run(ctx context.Context, m member) memberOutcome {
	d.mu.Lock()
	r, ok := d.runs[m.ref()]
	if !ok {
		r = &detectRun{}
		d.runs[m.ref()] = r
	}
	d.mu.Unlock()
	r.once.Do(func() { r.out = d.runOnce(ctx, m.desc) })
	return r.out
}

func (d *detector) runOnce(ctx context.Context, desc *buildpack.Descriptor) memberOutcome {
	in := d.in
	// Descriptor exec-env counts only for Platform ≥ 0.15 and Buildpack ≥ 0.12 (docs/spec-notes.md, Execution environments; buildpack.md, Order Resolution).
	if in.Platform.ExecEnv && desc.APIFeatures().ExecEnv && !desc.Buildpack.ExecEnv.Allows(in.ExecEnv) {
		msg := fmt.Sprintf("not detected: exec-env %q is not in [%s]", in.ExecEnv, strings.Join(desc.Buildpack.ExecEnv, ", "))
		fmt.Fprintf(d.log, "skip: %s: %s\n", desc.Ref(), msg)
		return memberOutcome{DetectOutcome: buildpack.DetectOutcome{ExitCode: -1}, skipped: msg}
	}
	if !desc.SupportsTarget(in.Target) {
		ts := make([]string, 0, len(desc.TargetList()))
		for _, t := range desc.TargetList() {
			ts = append(ts, t.String())
		}
		msg := fmt.Sprintf("not detected: target mismatch (run image %s; buildpack supports %s)", in.Target, strings.Join(ts, ", "))
		fmt.Fprintf(d.log, "%s: %s\n", desc.Ref(), msg)
		return memberOutcome{DetectOutcome: buildpack.DetectOutcome{ExitCode: -1}, mismatch: msg}
	}
	fmt.Fprintf(d.log, "running bin/detect of %s\n", desc.Ref())
	start := time.Now()
	defer func() { in.ProcessTime.track(start, time.Now()) }()
	out := desc.Detect(ctx, buildpack.DetectConfig{
		AppDir: in.AppDir, PlatformDir: in.PlatformDir, BuildConfigDir: in.BuildConfigDir,
		Environ: in.Environ, Target: in.Target, ExecEnv: in.ExecEnv,
	})
	// One write per buildpack so parallel detects do not interleave their output.
	var b strings.Builder
	fmt.Fprintf(&b, "======== Output: %s ========\n", desc.Ref())
	for _, l := range out.Output {
		b.WriteString(l + "\n")
	}
	fmt.Fprintf(&b, "%s: %s", out.Status, desc.Ref())
	if out.Err != nil {
		fmt.Fprintf(&b, ": %v", out.Err)
	}
	b.WriteString("\n")
	io.WriteString(d.log, b.String())
	return memberOutcome{DetectOutcome: out}
}

func (d *detector) logGroup(g GroupReport) {
	var b strings.Builder
	b.WriteString("======== Results ========\n")
	for _, m := range g.Members {
		fmt.Fprintf(&b, "%s: %s@%s\n", m.Status, m.ID, m.Version)
	}
	io.WriteString(d.log, b.String())
}

// detectLogWriter serialises writes from parallel detects.
type detectLogWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *detectLogWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
