package buildpack

// System is the [system] table.
type System struct {
	Pre  SystemBuildpacks `toml:"pre"`
	Post SystemBuildpacks `toml:"post"`
}

// SystemBuildpacks is [system.pre] or [system.post].
type SystemBuildpacks struct {
	Buildpacks []GroupElement `toml:"buildpacks"`
}

// WithSystem returns order with the system buildpacks merged into every group: pre before,
// post after. A system buildpack is not added to a group that already has its id (compared
// with the group's top-level ids, as the reference lifecycle does). The optional flag is
// kept as system.toml gives it (the spec's reading; the reference lifecycle ignores it).
func (s System) WithSystem(order Order) Order {
	if len(s.Pre.Buildpacks)+len(s.Post.Buildpacks) == 0 {
		return order
	}
	out := make(Order, len(order))
	for i, g := range order {
		has := map[string]bool{}
		for _, e := range g.Group {
			has[e.ID] = true
		}
		var els []GroupElement
		for _, e := range s.Pre.Buildpacks {
			if !has[e.ID] {
				els = append(els, e)
			}
		}
		els = append(els, g.Group...)
		for _, e := range s.Post.Buildpacks {
			if !has[e.ID] {
				els = append(els, e)
			}
		}
		out[i] = Group{Group: els}
	}
	return out
}
