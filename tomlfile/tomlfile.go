// Package tomlfile reads and writes the TOML files of buildpacks and platforms
// (buildpack.toml, order/group/plan.toml, layer metadata, …): reads report the file and the
// line and column of a mistake; writes are atomic.
package tomlfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/BurntSushi/toml"

	"github.com/slipway/slipway/atomicfile"
	"github.com/slipway/slipway/nofollow"
)

// Read decodes the file at path into v.
func Read(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	_, err = Decode(b, path, v)
	return err
}

// ReadIn decodes the file rel (slash-separated) under dir, a directory that a buildpack or
// an image wrote (<layers>, a rootfs), into v. It follows no symlink and reads no special
// file (nofollow.ReadFile): host-side code must never read a host file a buildpack points
// at. A missing file satisfies errors.Is(err, fs.ErrNotExist).
func ReadIn(dir, rel string, v any) error {
	b, err := nofollow.ReadFile(dir, rel)
	if err != nil {
		return err // names the file
	}
	_, err = Decode(b, filepath.Join(dir, filepath.FromSlash(rel)), v)
	return err
}

// Decode decodes data, read from path, into v, returning the metadata callers use to find
// unknown keys. Errors are Error's.
func Decode(data []byte, path string, v any) (toml.MetaData, error) {
	md, err := toml.Decode(string(data), v)
	if err != nil {
		return md, Error(path, err)
	}
	return md, nil
}

// Error names the file and, for syntax and type errors, the line and column, so a user can
// go straight to the mistake.
func Error(path string, err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("parse %s: line %d, column %d: %s", path, pe.Position.Line, pe.Position.Col, pe.Message)
	}
	return fmt.Errorf("parse %s: %w", path, err)
}

// Write writes v as TOML to path atomically.
func Write(path string, v any) error {
	return atomicfile.WriteFrom(path, 0o644, func(w io.Writer) error { return toml.NewEncoder(w).Encode(v) })
}
