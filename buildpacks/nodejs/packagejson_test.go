package nodejs

import (
	"os"
	"path/filepath"
	"testing"
)

// The node_modules reuse key follows the dependency fields of package.json: without a
// lockfile, a changed dependency must change the key (or the old modules are reused); a
// changed script or description must not.
func TestDependencyKey(t *testing.T) {
	key := func(pkg string, lock []byte) string {
		t.Helper()
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(pkg), 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := ReadPackageJSON(dir)
		if err != nil {
			t.Fatal(err)
		}
		return p.DependencyKey(lock)
	}
	base := key(`{"name":"app","scripts":{"start":"node ."},"dependencies":{"express":"^4.18.0"}}`, nil)
	for _, tc := range []struct {
		name, pkg string
		lock      []byte
		same      bool
	}{
		{"dependency version changed", `{"name":"app","scripts":{"start":"node ."},"dependencies":{"express":"^4.19.0"}}`, nil, false},
		{"dependency added", `{"name":"app","scripts":{"start":"node ."},"dependencies":{"express":"^4.18.0","ms":"2"}}`, nil, false},
		{"devDependency added", `{"name":"app","scripts":{"start":"node ."},"dependencies":{"express":"^4.18.0"},"devDependencies":{"jest":"29"}}`, nil, false},
		{"lockfile appears", `{"name":"app","scripts":{"start":"node ."},"dependencies":{"express":"^4.18.0"}}`, []byte("lock"), false},
		{"script changed", `{"name":"app","scripts":{"start":"node server.js"},"dependencies":{"express":"^4.18.0"}}`, nil, true},
		{"key order changed", `{"dependencies":{"express":"^4.18.0"},"scripts":{"start":"node ."},"name":"app"}`, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := key(tc.pkg, tc.lock); (got == base) != tc.same {
				t.Errorf("key same=%v, want same=%v", got == base, tc.same)
			}
		})
	}
}
