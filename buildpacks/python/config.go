package python

import (
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// config is the buildpack's configuration (README.md lists each variable).
type config struct {
	Version           string // BP_CPYTHON_VERSION
	Source            string // BP_CPYTHON_SOURCE: debian or standalone
	SourceSet         bool
	StandaloneMirror  string // BP_CPYTHON_STANDALONE_MIRROR
	StandaloneRelease string // BP_CPYTHON_STANDALONE_RELEASE
	Requirement       string // BP_PIP_REQUIREMENT: requirement files, space-separated
	PipVersion        string // BP_PIP_VERSION: "" keeps the runtime's pip
	PipenvVersion     string // BP_PIPENV_VERSION
	PoetryVersion     string // BP_POETRY_VERSION
	UVVersion         string // BP_UV_VERSION
	LiveReload        bool   // BP_LIVE_RELOAD_ENABLED (Paketo): not supported
}

func readConfig(env sdk.Environ, platform string) config {
	get := func(name, def string) string { return strings.TrimSpace(env.Config(platform, name, def)) }
	c := config{
		Version:           get("BP_CPYTHON_VERSION", ""),
		Source:            get("BP_CPYTHON_SOURCE", "debian"),
		StandaloneMirror:  get("BP_CPYTHON_STANDALONE_MIRROR", DefaultStandalone),
		StandaloneRelease: get("BP_CPYTHON_STANDALONE_RELEASE", DefaultStandaloneRel),
		Requirement:       get("BP_PIP_REQUIREMENT", ""),
		PipVersion:        get("BP_PIP_VERSION", ""),
		PipenvVersion:     get("BP_PIPENV_VERSION", DefaultPipenvVersion),
		PoetryVersion:     get("BP_POETRY_VERSION", DefaultPoetryVersion),
		UVVersion:         get("BP_UV_VERSION", DefaultUVVersion),
		LiveReload:        get("BP_LIVE_RELOAD_ENABLED", "") == "true",
	}
	c.SourceSet = get("BP_CPYTHON_SOURCE", "") != ""
	return c
}
