package sdk

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/slipway/slipway/atomicfile"

	"github.com/BurntSushi/toml"
)

// DecodeTOML decodes the file at path into v; a syntax error names the file, line and column.
func DecodeTOML(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if _, err := toml.Decode(string(b), v); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return fmt.Errorf("parse %s: line %d, column %d: %s", path, pe.Position.Line, pe.Position.Col, pe.Message)
		}
		return fmt.Errorf("parse %s: %w", path, err)
	}
	return nil
}

// WriteTOML encodes v to path atomically.
func WriteTOML(path string, v any) error {
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(v); err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return WriteFileAtomic(path, buf.Bytes(), 0o644)
}

// WriteFileAtomic writes data to path atomically, creating its directory.
func WriteFileAtomic(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	return atomicfile.Write(path, data, mode)
}

// EscapeID turns a buildpack ID into its directory name: '/' becomes '_' (platform.md, Buildpacks Directory Layout).
func EscapeID(id string) string { return strings.ReplaceAll(id, "/", "_") }
