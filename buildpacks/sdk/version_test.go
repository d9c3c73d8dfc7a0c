package sdk

import (
	"fmt"
	"slices"
	"testing"

	"github.com/slipway/slipway/debian/debiantest"
)

func TestDebianUpstream(t *testing.T) {
	cases := []struct {
		name, in string
		want     Version
		ok       bool
	}{
		{"plain", "3.1.2-7+deb12u1", Version{3, 1, 2}, true},
		{"epoch", "1:3.3.4-1", Version{3, 3, 4}, true},
		{"php security update", "8.2.7-1~deb12u1", Version{8, 2, 7}, true},
		{"really goes back", "3.1.7+really3.1.2-0+deb12u1", Version{3, 1, 2}, true},
		{"bare release", "3.11.2", Version{3, 11, 2}, true},
		{"two parts are no release", "3.11-1", Version{}, false},
		{"not a version", "latest", Version{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, ok := DebianUpstream(c.in)
			if v != c.want || ok != c.ok {
				t.Errorf("DebianUpstream(%q) = %v, %v; want %v, %v", c.in, v, ok, c.want, c.ok)
			}
		})
	}
}

func TestNewest(t *testing.T) {
	offered := []Version{{8, 1, 27}, {7, 4, 33}, {8, 3, 4}, {8, 2, 36}}
	cases := []struct {
		name   string
		allows func(Version) bool
		want   Version
		ok     bool
	}{
		{"any", func(Version) bool { return true }, Version{8, 3, 4}, true},
		{"a series", func(v Version) bool { return v.Minor() == "8.2" }, Version{8, 2, 36}, true},
		{"below a bound", func(v Version) bool { return v.Compare(Version{8, 2, 0}) < 0 }, Version{8, 1, 27}, true},
		{"none", func(v Version) bool { return v[0] == 9 }, Version{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, ok := Newest(offered, c.allows)
			if v != c.want || ok != c.ok {
				t.Errorf("Newest = %v, %v; want %v, %v", v, ok, c.want, c.ok)
			}
		})
	}
	if _, ok := Newest(nil, func(Version) bool { return true }); ok {
		t.Error("Newest of nothing found a version")
	}
}

func TestVersionCompare(t *testing.T) {
	cases := []struct {
		a, b Version
		want int
	}{
		{Version{3, 1, 2}, Version{3, 1, 2}, 0},
		{Version{3, 1, 2}, Version{3, 1, 10}, -1},
		{Version{3, 10, 0}, Version{3, 9, 9}, 1},
		{Version{4, 0, 0}, Version{3, 99, 99}, 1},
	}
	for _, c := range cases {
		if got := c.a.Compare(c.b); got != c.want {
			t.Errorf("%v.Compare(%v) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
	if s, m := (Version{8, 2, 7}).String(), (Version{8, 2, 7}).Minor(); s != "8.2.7" || m != "8.2" {
		t.Errorf("String, Minor = %q, %q", s, m)
	}
}

// Releases reads one release a series from a real signed repository, keeps the list in a
// layer, and lists from the layer while the repositories are unchanged.
func TestAptReleases(t *testing.T) {
	repo := debiantest.New(t)
	repo.Add(debiantest.Deb{Name: "ruby3.1", Version: "3.1.7+really3.1.2-0+deb12u1"})
	repo.Add(debiantest.Deb{Name: "ruby3.3", Version: "1:3.3.4-1"})
	repo.Add(debiantest.Deb{Name: "ruby-json", Version: "2.6.3-1"})
	repo.Add(debiantest.Deb{Name: "php8.2-cli", Version: "8.2.7-1~deb12u1"})
	repo.Publish(nil)
	root := aptImage(t, repo, installed(), installed())
	layers := Layers{Path: t.TempDir()}
	cache, _ := layers.Get("apt-cache")
	apt := &Apt{Root: root, Cache: cache}
	ruby := func(major, minor int) string { return fmt.Sprintf("ruby%d.%d", major, minor) }

	lay, _ := layers.Get("ruby")
	rel, err := apt.Releases(t.Context(), lay, ruby, 2, 3, 4)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Version{{3, 1, 2}, {3, 3, 4}}; !slices.Equal(rel.Versions, want) {
		t.Fatalf("releases %v, want %v (php8.2-cli and ruby-json are no Ruby series)", rel.Versions, want)
	}
	rel.Remember(lay)
	if err := lay.Write(); err != nil {
		t.Fatal(err)
	}

	t.Run("the next build lists from the layer", func(t *testing.T) {
		again, _ := layers.Get("ruby")
		// A list only the layer can have shows it was not read from the index.
		again.Metadata["apt-versions"] = "3.2.9"
		rel, err := apt.Releases(t.Context(), again, ruby, 3)
		if err != nil || !slices.Equal(rel.Versions, []Version{{3, 2, 9}}) {
			t.Fatalf("releases %v, %v; want the layer's 3.2.9", rel.Versions, err)
		}
	})
	t.Run("changed repositories are read again", func(t *testing.T) {
		stale, _ := layers.Get("ruby")
		stale.Metadata["apt-repositories"], stale.Metadata["apt-versions"] = "another key", "3.2.9"
		rel, err := apt.Releases(t.Context(), stale, ruby, 3)
		if err != nil || !slices.Equal(rel.Versions, []Version{{3, 1, 2}, {3, 3, 4}}) {
			t.Fatalf("releases %v, %v; want the index's", rel.Versions, err)
		}
	})
	t.Run("no layer", func(t *testing.T) {
		rel, err := apt.Releases(t.Context(), nil, func(major, minor int) string { return fmt.Sprintf("php%d.%d-cli", major, minor) }, 5, 7, 8)
		if err != nil || !slices.Equal(rel.Versions, []Version{{8, 2, 7}}) {
			t.Fatalf("releases %v, %v; want 8.2.7", rel.Versions, err)
		}
	})
}
