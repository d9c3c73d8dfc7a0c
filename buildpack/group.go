package buildpack

// GroupElement is one buildpack in an order group, a detected group (group.toml) or a
// composite buildpack's [[order.group]] (buildpack.md, Order Buildpacks; platform.md, Files).
type GroupElement struct {
	ID       string `toml:"id" json:"id"`
	Version  string `toml:"version,omitempty" json:"version,omitempty"`
	API      string `toml:"api,omitempty" json:"-"`
	Homepage string `toml:"homepage,omitempty" json:"homepage,omitempty"`
	Optional bool   `toml:"optional,omitempty" json:"optional,omitempty"`
	// Extension is set for image extensions in group-extensions.
	Extension bool     `toml:"extension,omitempty" json:"-"`
	ExecEnv   []string `toml:"exec-env,omitempty" json:"-"`
}

// Ref is "id@version".
func (e GroupElement) Ref() string { return e.ID + "@" + e.Version }

// Group is one [[order]] entry: buildpacks tried together.
type Group struct {
	Group []GroupElement `toml:"group" json:"group"`
}

// Order is a list of groups tried in turn (order.toml, builder [[order]]).
type Order []Group

// Require is one build-plan requirement (buildpack.md, Build Plan (TOML)).
type Require struct {
	Name     string         `toml:"name"`
	Metadata map[string]any `toml:"metadata,omitempty"`
}

// Provide is one build-plan provision.
type Provide struct {
	Name string `toml:"name"`
}

// PlanSections is a provides/requires pair: the primary plan or one [[or]] alternative.
type PlanSections struct {
	Provides []Provide `toml:"provides"`
	Requires []Require `toml:"requires"`
}

// DetectPlan is the file bin/detect writes to CNB_BUILD_PLAN_PATH.
type DetectPlan struct {
	PlanSections
	Or []PlanSections `toml:"or"`
}

// PlanEntry is one dependency name with who provides it and every requirement of it.
type PlanEntry struct {
	Providers []GroupElement `toml:"providers"`
	Requires  []Require      `toml:"requires"`
}

// BuildpackPlan is the per-buildpack plan given to bin/build (buildpack.md, Buildpack Plan (TOML)).
type BuildpackPlan struct {
	Entries []Require `toml:"entries"`
}
