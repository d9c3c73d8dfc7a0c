package sdk

import (
	"fmt"
	"os"
)

// Provide is a build plan provision (cnb-spec.md §2.3.4).
type Provide struct {
	Name string `toml:"name"`
}

// Require is a build plan requirement (cnb-spec.md §2.3.4). A version belongs in
// Metadata["version"], never top level (§2.3.3).
type Require struct {
	Name     string         `toml:"name"`
	Metadata map[string]any `toml:"metadata,omitempty"`
}

// PlanSections is one alternative of a build plan.
type PlanSections struct {
	Provides []Provide `toml:"provides,omitempty"`
	Requires []Require `toml:"requires,omitempty"`
}

// BuildPlan is what bin/detect writes to CNB_BUILD_PLAN_PATH: a primary alternative and
// [[or]] alternatives (cnb-spec.md §2.3.4, §2.4.3).
type BuildPlan struct {
	PlanSections
	Or []PlanSections `toml:"or,omitempty"`
}

// BuildpackPlan is the plan bin/build reads from CNB_BP_PLAN_PATH: one entry per
// requirement, never merged (cnb-spec.md §2.5.2).
type BuildpackPlan struct {
	Entries []Require `toml:"entries"`
}

// Has reports whether the plan has an entry named name.
func (p BuildpackPlan) Has(name string) bool {
	for _, e := range p.Entries {
		if e.Name == name {
			return true
		}
	}
	return false
}

// ReadBuildpackPlan reads the plan at path; an empty path or file is an empty plan.
func ReadBuildpackPlan(path string) (BuildpackPlan, error) {
	var p BuildpackPlan
	if path == "" {
		return p, nil
	}
	if _, err := os.Stat(path); err != nil {
		return p, fmt.Errorf("read buildpack plan %s: %w", path, err)
	}
	if err := DecodeTOML(path, &p); err != nil {
		return p, err
	}
	return p, nil
}
