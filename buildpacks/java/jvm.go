package java

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// jvmSource is where a JDK or JRE comes from.
type jvmSource interface {
	// Name is how messages and BP_JVM_SOURCE call the source.
	Name() string
	// Offered lists the major versions the source has.
	Offered(ctx context.Context) ([]int, error)
	// Install puts a JDK (jdk) or a JRE into lay for build and/or launch and returns its
	// JAVA_HOME; reused is true when the layer already held it.
	Install(ctx context.Context, lay *sdk.Layer, major int, jdk bool, types sdk.LayerTypes) (home string, reused bool, err error)
}

// VersionError says no source has the JVM the app asks for, with what each offers.
type VersionError struct {
	Req     Requirement
	Offered map[string][]int // by source name
	Failed  map[string]error // sources that could not be asked
	Order   []string
}

func (e *VersionError) Error() string {
	var parts []string
	for _, name := range e.Order {
		if err := e.Failed[name]; err != nil {
			parts = append(parts, fmt.Sprintf("%s could not be asked (%v)", name, err))
			continue
		}
		var vs []string
		for _, n := range e.Offered[name] {
			vs = append(vs, strconv.Itoa(n))
		}
		offer := "nothing"
		if len(vs) > 0 {
			offer = strings.Join(vs, ", ")
		}
		parts = append(parts, fmt.Sprintf("%s offers %s", name, offer))
	}
	return fmt.Sprintf("no JVM %s in the sources searched: %s. Change the version, or add a source: BP_JVM_ADOPTIUM_URL names an Adoptium-API mirror", e.Req, strings.Join(parts, "; "))
}

// pickJVM asks each source in order and returns the first that has a version the
// requirement accepts.
func pickJVM(ctx context.Context, sources []jvmSource, req Requirement) (jvmSource, int, error) {
	verr := &VersionError{Req: req, Offered: map[string][]int{}, Failed: map[string]error{}}
	for _, s := range sources {
		verr.Order = append(verr.Order, s.Name())
		offered, err := s.Offered(ctx)
		if err != nil {
			verr.Failed[s.Name()] = err
			continue
		}
		sort.Ints(offered)
		verr.Offered[s.Name()] = offered
		if n, ok := req.choose(offered); ok {
			return s, n, nil
		}
	}
	if len(verr.Failed) == len(sources) && len(sources) == 1 {
		return nil, 0, fmt.Errorf("list the JVM versions of %s: %w", sources[0].Name(), verr.Failed[sources[0].Name()])
	}
	return nil, 0, verr
}

// writeJavaEnv points JAVA_HOME and PATH at home: for build (env.build) or for build
// and launch (env).
func writeJavaEnv(env sdk.EnvDir, home string) error {
	if err := env.Override("JAVA_HOME", home); err != nil {
		return err
	}
	return env.Prepend("PATH", filepath.Join(home, "bin"), ":")
}
