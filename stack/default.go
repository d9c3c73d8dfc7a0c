package stack

import _ "embed"

//go:embed default-bookworm.toml
var defaultBookworm []byte

// DefaultConfigName names the built-in stack in errors and logs.
const DefaultConfigName = "built-in stack (Debian 12 bookworm)"

// DefaultConfig returns the text of the built-in stack.toml, a starting point for
// custom stacks.
func DefaultConfig() []byte { return append([]byte(nil), defaultBookworm...) }

// Default returns the built-in stack: Debian 12 (bookworm) with a build image carrying
// what buildpacks commonly need and a small run image. Its keyring is Debian's archive
// keyring at /usr/share/keyrings/debian-archive-keyring.gpg (package
// debian-archive-keyring).
func Default() (*Definition, error) {
	return ParseDefinition(defaultBookworm, DefaultConfigName)
}
