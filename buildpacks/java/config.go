package java

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// Sources of BP_JVM_SOURCE.
const (
	SourceDebian   = "debian"
	SourceAdoptium = "adoptium"
)

// config is the buildpack's configuration (README.md lists each variable).
type config struct {
	Source      string // BP_JVM_SOURCE: "" (debian, then adoptium when a URL is set), debian or adoptium
	AdoptiumURL string // BP_JVM_ADOPTIUM_URL

	MavenArgs      []string // BP_MAVEN_BUILD_ARGUMENTS
	MavenExtraArgs []string // BP_MAVEN_ADDITIONAL_BUILD_ARGUMENTS
	MavenArtifact  string   // BP_MAVEN_BUILT_ARTIFACT
	MavenModule    string   // BP_MAVEN_BUILT_MODULE

	GradleArgs     []string // BP_GRADLE_BUILD_ARGUMENTS
	GradleArtifact string   // BP_GRADLE_BUILT_ARTIFACT
	GradleModule   string   // BP_GRADLE_BUILT_MODULE
}

func readConfig(env sdk.Environ, platform string) (config, error) {
	get := func(name, def string) string { return strings.TrimSpace(env.Config(platform, name, def)) }
	c := config{
		Source:         strings.ToLower(get("BP_JVM_SOURCE", "")),
		AdoptiumURL:    get("BP_JVM_ADOPTIUM_URL", ""),
		MavenArgs:      strings.Fields(get("BP_MAVEN_BUILD_ARGUMENTS", "package -DskipTests")),
		MavenExtraArgs: strings.Fields(get("BP_MAVEN_ADDITIONAL_BUILD_ARGUMENTS", "")),
		MavenArtifact:  get("BP_MAVEN_BUILT_ARTIFACT", "target/*.[ejw]ar"),
		MavenModule:    get("BP_MAVEN_BUILT_MODULE", ""),
		GradleArgs:     strings.Fields(get("BP_GRADLE_BUILD_ARGUMENTS", "--no-daemon -Dorg.gradle.welcome=never assemble")),
		GradleArtifact: get("BP_GRADLE_BUILT_ARTIFACT", "build/libs/*.[jw]ar"),
		GradleModule:   get("BP_GRADLE_BUILT_MODULE", ""),
	}
	switch c.Source {
	case "", SourceDebian:
	case SourceAdoptium:
		if c.AdoptiumURL == "" {
			c.AdoptiumURL = DefaultAdoptiumURL
		}
	default:
		return c, fmt.Errorf("BP_JVM_SOURCE=%q: want %s or %s", c.Source, SourceDebian, SourceAdoptium)
	}
	return c, nil
}

// sources are the JVM sources to search, in order: BP_JVM_SOURCE alone when set, else
// Debian and then the Adoptium mirror when BP_JVM_ADOPTIUM_URL names one.
func (c config) sources(apt *sdk.Apt, cache *sdk.Layer, client *http.Client) []jvmSource {
	deb := &debianSource{apt: apt, cache: cache}
	switch c.Source {
	case SourceDebian:
		return []jvmSource{deb}
	case SourceAdoptium:
		return []jvmSource{newAdoptium(c.AdoptiumURL, client)}
	}
	if c.AdoptiumURL != "" {
		return []jvmSource{deb, newAdoptium(c.AdoptiumURL, client)}
	}
	return []jvmSource{deb}
}
