package buildpack

import (
	"reflect"
	"testing"
)

// platform.md, system.toml (TOML): system pre/post buildpacks go around every group, unless the group
// already has that id.
func TestWithSystem(t *testing.T) {
	el := func(id string, optional bool) GroupElement {
		return GroupElement{ID: id, Version: "1.0.0", Optional: optional}
	}
	sys := System{
		Pre:  SystemBuildpacks{Buildpacks: []GroupElement{el("sys/pre", true)}},
		Post: SystemBuildpacks{Buildpacks: []GroupElement{el("sys/post", false)}},
	}
	order := Order{
		{Group: []GroupElement{el("a", false)}},
		{Group: []GroupElement{el("sys/pre", false), el("b", false)}},
	}
	got := sys.WithSystem(order)
	want := Order{
		{Group: []GroupElement{el("sys/pre", true), el("a", false), el("sys/post", false)}},
		{Group: []GroupElement{el("sys/pre", false), el("b", false), el("sys/post", false)}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if len(order[0].Group) != 1 {
		t.Fatal("WithSystem changed its input")
	}
	if got := (System{}).WithSystem(order); !reflect.DeepEqual(got, order) {
		t.Fatal("an empty system.toml changed the order")
	}
}
