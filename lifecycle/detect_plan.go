package lifecycle

import (
	"errors"
	"fmt"
	"slices"

	"github.com/slipway/slipway/buildpack"
)

// maxPlanTrials bounds the combinations of [[or]] alternatives tried for one group.
const maxPlanTrials = 1 << 16

// planOption is one member with one of its plan alternatives chosen.
type planOption struct {
	m        member
	optional bool
	sections buildpack.PlanSections
}

// resolvePlan tries every combination of plan alternatives, depth-first, left to right,
// the primary plan before each [[or]], and keeps the first that resolves (buildpack.md, Order Resolution).
// It returns the participating members and the plan entries (platform.md, plan.toml (TOML)).
func (d *detector) resolvePlan(members []member, plans []buildpack.DetectPlan) ([]member, []buildpack.PlanEntry, error) {
	var (
		trials   int
		firstErr error
		trial    []planOption
		entries  []buildpack.PlanEntry
	)
	var try func(prefix []planOption, i int) (bool, error)
	try = func(prefix []planOption, i int) (bool, error) {
		if i == len(members) {
			trials++
			if trials > maxPlanTrials {
				return false, fmt.Errorf("more than %d build plan combinations; reduce the [[or]] alternatives", maxPlanTrials)
			}
			fmt.Fprintf(d.log, "Resolving plan... (try #%d)\n", trials)
			t, e, err := d.runTrial(slices.Clone(prefix))
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return false, nil
			}
			trial, entries = t, e
			return true, nil
		}
		alts := append([]buildpack.PlanSections{plans[i].PlanSections}, plans[i].Or...)
		for j, s := range alts {
			// An optional buildpack counts as optional only in its last alternative (buildpack.md, Order Resolution).
			opt := members[i].optional && j == len(alts)-1
			ok, err := try(append(slices.Clip(prefix), planOption{m: members[i], optional: opt, sections: s}), i+1)
			if ok || err != nil {
				return ok, err
			}
		}
		return false, nil
	}
	ok, err := try(nil, 0)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		if trials > 1 {
			return nil, nil, fmt.Errorf("no build plan resolved in %d trials; first: %w", trials, firstErr)
		}
		return nil, nil, firstErr
	}
	out := make([]member, len(trial))
	for i, o := range trial {
		out[i] = o.m
	}
	return out, entries, nil
}

// depEntry tracks one dependency name while a trial is evaluated.
type depEntry struct {
	entry buildpack.PlanEntry
	// unconsumed are trial indexes whose provide no later (or same) require consumed yet.
	unconsumed []int
	// early are trial indexes that required the name before anyone provided it.
	early []int
}

// runTrial checks one trial: every require met by a provide of the same or an earlier
// buildpack, every provide consumed by a require of the same or a later one. An optional
// member that breaks a rule is dropped and the trial re-evaluated; a required one fails it.
func (d *detector) runTrial(trial []planOption) ([]planOption, []buildpack.PlanEntry, error) {
	for {
		names, deps := buildDeps(trial)
		broken, why := -1, ""
		for _, n := range names {
			e := deps[n]
			if len(e.early) > 0 {
				broken, why = e.early[0], fmt.Sprintf("requires %s, which no buildpack before it provides", n)
				break
			}
		}
		if broken < 0 {
			for _, n := range names {
				e := deps[n]
				if len(e.unconsumed) > 0 {
					broken, why = e.unconsumed[0], fmt.Sprintf("provides %s, which no buildpack at or after it requires", n)
					break
				}
			}
		}
		if broken < 0 {
			if len(trial) == 0 {
				return nil, nil, errors.New("every participating buildpack was optional and dropped")
			}
			entries := make([]buildpack.PlanEntry, 0, len(names))
			for _, n := range names {
				if len(deps[n].entry.Requires) > 0 {
					entries = append(entries, deps[n].entry)
				}
			}
			return trial, entries, nil
		}
		o := trial[broken]
		if !o.optional {
			fmt.Fprintf(d.log, "fail: %s %s\n", o.m.ref(), why)
			return nil, nil, fmt.Errorf("%s %s", o.m.ref(), why)
		}
		fmt.Fprintf(d.log, "skip: %s %s\n", o.m.ref(), why)
		trial = slices.Delete(trial, broken, broken+1)
	}
}

// buildDeps walks the trial in order; within one buildpack provides come before requires, so
// a buildpack may satisfy itself. Providers of a requirement are all providers seen before it
// (platform.md, plan.toml (TOML)). Names are returned in order of first appearance.
func buildDeps(trial []planOption) ([]string, map[string]*depEntry) {
	var names []string
	deps := map[string]*depEntry{}
	get := func(n string) *depEntry {
		e, ok := deps[n]
		if !ok {
			e = &depEntry{}
			deps[n] = e
			names = append(names, n)
		}
		return e
	}
	for i, o := range trial {
		for _, p := range o.sections.Provides {
			e := get(p.Name)
			e.unconsumed = append(e.unconsumed, i)
		}
		for _, r := range o.sections.Requires {
			e := get(r.Name)
			for _, j := range e.unconsumed {
				e.entry.Providers = append(e.entry.Providers, buildpack.GroupElement{
					ID: trial[j].m.desc.Buildpack.ID, Version: trial[j].m.desc.Buildpack.Version,
				})
			}
			e.unconsumed = nil
			if len(e.entry.Providers) == 0 {
				e.early = append(e.early, i)
				continue
			}
			e.entry.Requires = append(e.entry.Requires, r)
		}
	}
	return names, deps
}
