package php

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Manifest is what the buildpack reads from the app's composer.json and composer.lock
// (getcomposer.org/doc/04-schema.md).
type Manifest struct {
	// Require is composer.json's require: "php" and "ext-*" are platform packages.
	Require map[string]string
	// VendorDir is config.vendor-dir, "vendor" unless set.
	VendorDir string
	// Autoload is composer.json's autoload section, for the class-map fingerprint.
	Autoload autoload
	// Lock is composer.lock, nil when the app has none.
	Lock *lockFile
	// Repositories is composer.json's repositories (a list, or an object by name).
	Repositories any
	// HasJSON is false for an app without composer.json (index.php only).
	HasJSON bool
}

type autoload struct {
	PSR4     map[string]paths `json:"psr-4"`
	PSR0     map[string]paths `json:"psr-0"`
	Classmap []string         `json:"classmap"`
	Files    []string         `json:"files"`
}

// paths is a string or a list of strings (psr-4 and psr-0 allow both).
type paths []string

func (p *paths) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*p = paths{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*p = many
	return nil
}

type composerJSON struct {
	Require      map[string]string `json:"require"`
	Autoload     autoload          `json:"autoload"`
	Repositories any               `json:"repositories"`
	Config       struct {
		VendorDir string `json:"vendor-dir"`
	} `json:"config"`
}

type lockFile struct {
	ContentHash string        `json:"content-hash"`
	Packages    []lockPackage `json:"packages"`
	Platform    any           `json:"platform"`
}

type lockPackage struct {
	Name    string            `json:"name"`
	Version string            `json:"version"`
	Require map[string]string `json:"require"`
}

// ReadManifest reads composer.json and composer.lock of appDir; a file that is not valid
// JSON (or has a value of the wrong type) is reported with its line and column.
func ReadManifest(appDir string) (*Manifest, error) {
	m := &Manifest{VendorDir: "vendor", Require: map[string]string{}}
	var cj composerJSON
	ok, err := readJSON(filepath.Join(appDir, "composer.json"), &cj)
	if err != nil {
		return nil, err
	}
	if !ok {
		return m, nil
	}
	m.HasJSON = true
	if cj.Require != nil {
		m.Require = cj.Require
	}
	m.Autoload = cj.Autoload
	m.Repositories = cj.Repositories
	if v := strings.TrimSuffix(cj.Config.VendorDir, "/"); v != "" {
		if filepath.IsAbs(v) || strings.HasPrefix(filepath.Clean(v), "..") {
			return nil, fmt.Errorf("composer.json config.vendor-dir %q: must be a directory inside the app", v)
		}
		m.VendorDir = filepath.Clean(v)
	}
	var lock lockFile
	if ok, err := readJSON(filepath.Join(appDir, "composer.lock"), &lock); err != nil {
		return nil, err
	} else if ok {
		m.Lock = &lock
	}
	return m, nil
}

// readJSON decodes path into v; ok is false when the file does not exist.
func readJSON(path string, v any) (bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, jsonError(filepath.Base(path), b, err)
	}
	return true, nil
}

// jsonError names the file and the line and column of a decoding error.
func jsonError(name string, b []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	off := int64(-1)
	msg := err.Error()
	switch {
	case errors.As(err, &se):
		off = se.Offset - 1 // the offending byte is the last one read
		if off >= int64(len(b))-1 && strings.Contains(msg, "end of JSON input") {
			off = int64(len(b)) // past the end: where the rest is missing
		}
	case errors.As(err, &te):
		off = te.Offset - 1
		msg = fmt.Sprintf("%s: expected %s, found a JSON %s", te.Field, te.Type, te.Value)
	}
	if off < 0 {
		return fmt.Errorf("%s is not valid JSON: %s", name, msg)
	}
	line, col := position(b, off)
	return fmt.Errorf("%s: line %d, column %d: %s; fix the file (`composer validate` explains more)", name, line, col, msg)
}

// position turns a byte offset into a 1-based line and column.
func position(b []byte, off int64) (int, int) {
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	line, col := 1, 1
	for _, c := range b[:off] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

// ExtRequirement is one ext-* platform requirement and where it comes from.
type ExtRequirement struct {
	Name string // the extension, as PHP names it (mbstring, pdo_mysql)
	From string // composer.json, or the locked package that requires it
}

// Extensions lists the ext-* requirements of composer.json and of the packages in
// composer.lock (composer install checks both against the PHP that runs it), sorted by
// name, each once.
func (m *Manifest) Extensions() []ExtRequirement {
	seen := map[string]bool{}
	var out []ExtRequirement
	add := func(req map[string]string, from string) {
		var names []string
		for k := range req {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			ext, ok := strings.CutPrefix(strings.ToLower(k), "ext-")
			if !ok || seen[ext] {
				continue
			}
			seen[ext] = true
			out = append(out, ExtRequirement{Name: ext, From: from})
		}
	}
	add(m.Require, "composer.json")
	if m.Lock != nil {
		for _, p := range m.Lock.Packages {
			add(p.Require, "composer.lock package "+p.Name)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// autoloadKey fingerprints what the optimized class map is made from: the PHP files
// under the app's PSR-4/PSR-0 roots by path (their paths are their class names) and the
// class-map roots by path and content. While it is unchanged the class map in the vendor
// layer stays right, whatever else in the app was edited.
func (m *Manifest) autoloadKey(appDir string) (string, error) {
	h := sha256.New()
	var roots []string
	for _, group := range []map[string]paths{m.Autoload.PSR4, m.Autoload.PSR0} {
		var prefixes []string
		for p := range group {
			prefixes = append(prefixes, p)
		}
		sort.Strings(prefixes)
		for _, p := range prefixes {
			fmt.Fprintf(h, "prefix %q\n", p)
			roots = append(roots, group[p]...)
		}
	}
	walk := func(root string, content bool) error {
		base := filepath.Join(appDir, filepath.Clean("/"+root))
		return filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if d.IsDir() || !(strings.HasSuffix(p, ".php") || strings.HasSuffix(p, ".inc")) {
				return nil
			}
			rel, _ := filepath.Rel(appDir, p)
			fmt.Fprintf(h, "file %s\n", rel)
			if content {
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				sum := sha256.Sum256(b)
				fmt.Fprintf(h, "sha256 %x\n", sum)
			}
			return nil
		})
	}
	for _, r := range roots {
		if err := walk(r, false); err != nil {
			return "", fmt.Errorf("read autoload root %s: %w", r, err)
		}
	}
	for _, r := range append(append([]string(nil), m.Autoload.Classmap...), m.Autoload.Files...) {
		if err := walk(r, true); err != nil {
			return "", fmt.Errorf("read autoload path %s: %w", r, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// fileKey is the SHA-256 of the named app files (missing ones count as absent).
func fileKey(appDir string, names ...string) string {
	h := sha256.New()
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(appDir, n))
		if err != nil {
			fmt.Fprintf(h, "%s absent\n", n)
			continue
		}
		sum := sha256.Sum256(b)
		fmt.Fprintf(h, "%s %x\n", n, sum)
	}
	return hex.EncodeToString(h.Sum(nil))
}
