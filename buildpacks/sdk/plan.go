package sdk

import (
	"fmt"
	"os"
)

// Provide is a build plan provision (buildpack.md, Build Plan (TOML)).
type Provide struct {
	Name string `toml:"name"`
}

// Require is a build plan requirement (buildpack.md, Build Plan (TOML)). A version belongs in
// Metadata["version"], never top level (buildpack.md, Build Plan (TOML)).
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
// [[or]] alternatives (buildpack.md, Build Plan (TOML); buildpack.md, Order Resolution).
type BuildPlan struct {
	PlanSections
	Or []PlanSections `toml:"or,omitempty"`
}

// BuildpackPlan is the plan bin/build reads from CNB_BP_PLAN_PATH: one entry per
// requirement, never merged (buildpack.md, Buildpack Plan (TOML)).
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
