package launch

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Classic (Heroku / Cloud Foundry) buildpacks expect the Heroku runtime: HOME is the app
// directory and every <app>/.profile.d/*.sh is sourced, in name order, before the process
// runs, so scripts can use relative $HOME/... paths (Heroku Dev Center, Buildpack API:
// .profile.d scripts). Their processes are shell processes of Buildpack API 0.8, so the
// layer profile.d scripts (Cloud Foundry's DEPS_DIR/<idx>/profile.d) are already sourced by
// the legacy mechanism; this adds the app's own scripts. See docs/classic-buildpacks.md.

// classicIDPrefix starts the id of every classic buildpack (buildpack.ClassicIDPrefix; the
// launcher does not import buildpack).
const classicIDPrefix = "classic/"

// hasClassic reports whether a classic buildpack took part in the build.
func (l *Launcher) hasClassic() bool {
	for _, bp := range l.Metadata.Buildpacks {
		if strings.HasPrefix(bp.ID, classicIDPrefix) {
			return true
		}
	}
	return false
}

// appProfileD lists <app>/.profile.d/*.sh in name order when the image has a classic
// buildpack; nothing otherwise (CNB apps keep only <app>/.profile).
func (l *Launcher) appProfileD() []string {
	if !l.hasClassic() {
		return nil
	}
	matches, _ := filepath.Glob(filepath.Join(l.AppDir, ".profile.d", "*.sh"))
	var out []string
	for _, m := range matches {
		if fi, err := os.Stat(m); err == nil && fi.Mode().IsRegular() {
			out = append(out, m)
		}
	}
	sort.Strings(out)
	return out
}

// classicHome sets HOME to the app dir for images built with a classic buildpack, as the
// Heroku runtime does.
func (l *Launcher) classicHome(env *Env) {
	if l.hasClassic() {
		env.Set("HOME", l.AppDir)
	}
}
