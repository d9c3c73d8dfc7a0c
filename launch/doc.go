// Package launch is the launcher library: it reads <layers>/config/metadata.toml, selects a
// process, assembles the launch environment (including exec.d) and execs it (platform.md, launcher).
// It must stay small: cmd/launcher imports only this package and the standard library
// (plus the TOML decoder the spec's file formats require).
package launch
