package nodejs

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// PackageJSON is the part of package.json the buildpack reads.
type PackageJSON struct {
	Name           string            `json:"name"`
	Main           string            `json:"main"`
	Scripts        map[string]string `json:"scripts"`
	Engines        map[string]string `json:"engines"`
	PackageManager string            `json:"packageManager"`
	// deps holds the fields that decide what gets installed; see DependencyKey.
	deps map[string]json.RawMessage
}

// ReadPackageJSON parses <appDir>/package.json. A syntax error names the file, line and
// column so the user can fix it.
func ReadPackageJSON(appDir string) (*PackageJSON, error) {
	path := filepath.Join(appDir, "package.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var p PackageJSON
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("parse %s: %s", path, describeJSONError(b, err))
	}
	var all map[string]json.RawMessage
	_ = json.Unmarshal(b, &all)
	p.deps = map[string]json.RawMessage{}
	for _, k := range []string{"dependencies", "devDependencies", "optionalDependencies", "peerDependencies",
		"bundleDependencies", "overrides", "resolutions", "workspaces", "pnpm"} {
		if v, ok := all[k]; ok {
			p.deps[k] = v
		}
	}
	return &p, nil
}

// describeJSONError turns a byte offset into line:column.
func describeJSONError(b []byte, err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	var off int64
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	default:
		return err.Error()
	}
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	before := b[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - bytes.LastIndexByte(before, '\n') - 1
	if col < 1 {
		col = 1
	}
	return fmt.Sprintf("line %d, column %d: %v", line, col, err)
}

// DependencyKey hashes what decides the installed node_modules: the lockfile and the
// dependency fields of package.json (not scripts or other fields, which do not change
// what is installed).
func (p *PackageJSON) DependencyKey(lockfile []byte) string {
	h := sha256.New()
	h.Write(lockfile)
	h.Write([]byte{0})
	// json.Marshal sorts map keys, so the hash is stable.
	b, _ := json.Marshal(p.deps)
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}
