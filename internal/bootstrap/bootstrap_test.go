package bootstrap

import (
	"context"
	"debug/elf"
	"io/fs"
	"path/filepath"
	"testing"
)

// The assets a plain `go install` lacks are built from this module's source: a static
// launcher for this machine's architecture and both buildpacks in the embed layout; the
// second call reuses them.
func TestAssetsBuiltOnceFromSource(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the launcher and buildpacks")
	}
	ctx := context.Background()
	src, err := Source(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !isModuleRoot(src) {
		t.Fatalf("Source() = %s, not the module root", src)
	}
	var built int
	o := Options{CacheDir: t.TempDir(), Logf: func(string, ...any) { built++ }}
	l, err := Launcher(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(l)
	if err != nil {
		t.Fatalf("launcher %s: %v", l, err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("launcher is dynamically linked; it must run in any run image")
		}
	}
	f.Close()
	bps, err := Buildpacks(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"slipway_nodejs", "slipway_procfile"} {
		for _, p := range []string{"buildpack.toml", "bin/build"} {
			if _, err := fs.Stat(bps, filepath.ToSlash(filepath.Join(id, "0.1.0", p))); err != nil {
				t.Errorf("%s: %v", id, err)
			}
		}
		if _, err := fs.Stat(bps, id+"/0.1.0/bin/detect"); err == nil {
			t.Errorf("%s: bin/detect present; the embed layout leaves it to the default builder", id)
		}
	}
	if built != 1 {
		t.Errorf("assets built %d times, want once", built)
	}
}
