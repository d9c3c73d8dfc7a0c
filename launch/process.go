package launch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// shellPath runs non-direct processes on Linux (buildpack.md, Launch).
const shellPath = "/bin/bash"

// selected is a process after selection and argument handling (buildpack.md, Launch).
type selected struct {
	Type    string   // empty for a user-provided command
	Command []string // executable (or, for a shell script, the script) first
	Args    []string
	Direct  bool
	// Script: a non-direct process with a single command word and no args; the word is
	// itself a bash script (e.g. "bundle exec rails s -p $PORT").
	Script     bool
	WorkingDir string
}

// selectProcess picks the process from argv0 and the user args (buildpack.md, Launch).
func (l *Launcher) selectProcess(self string, args []string, plat apiVersion, bpAPIs map[string]apiVersion) (selected, error) {
	name := strings.TrimSuffix(filepath.Base(self), ".exe")
	if p, ok := l.findProcess(name); ok {
		return l.fromProcess(p, args, plat, bpAPIs)
	}
	if len(args) == 0 {
		if d := l.Metadata.BuildpackDefaultProcessType; d != "" {
			p, ok := l.findProcess(d)
			if !ok {
				return selected{}, fmt.Errorf("default process type %q is not in %s", d, l.metadataPath())
			}
			return l.fromProcess(p, nil, plat, bpAPIs)
		}
		return selected{}, fmt.Errorf("%q is not a process type of this image and no command was given: "+
			"run the image with ENTRYPOINT %s/<type> (types: %s) or pass a command", name, ProcessDir, l.processTypes())
	}
	if args[0] == "--" {
		if len(args) < 2 {
			return selected{}, errors.New(`"--" must be followed by the command to run`)
		}
		return selected{Command: []string{args[1]}, Args: args[2:], Direct: true, WorkingDir: l.AppDir}, nil
	}
	return selected{Command: []string{args[0]}, Args: args[1:], Script: len(args) == 1, WorkingDir: l.AppDir}, nil
}

func (l *Launcher) findProcess(t string) (Process, bool) {
	for _, p := range l.Metadata.Processes {
		if p.Type == t {
			return p, true
		}
	}
	return Process{}, false
}

func (l *Launcher) processTypes() string {
	var ts []string
	for _, p := range l.Metadata.Processes {
		ts = append(ts, p.Type)
	}
	if len(ts) == 0 {
		return "none"
	}
	return strings.Join(ts, ", ")
}

// fromProcess turns a buildpack-defined process plus user args into a selected process.
func (l *Launcher) fromProcess(p Process, userArgs []string, plat apiVersion, bpAPIs map[string]apiVersion) (selected, error) {
	if len(p.Command) == 0 || p.Command[0] == "" {
		return selected{}, fmt.Errorf("process type %q in %s has no command", p.Type, l.metadataPath())
	}
	if plat.atLeast(platformExecEnv) && !eligible(p.ExecEnv, l.execEnv()) {
		return selected{}, fmt.Errorf("process type %q is not available in execution environment %q (CNB_EXEC_ENV); it runs only in: %s",
			p.Type, l.execEnv(), strings.Join(p.ExecEnv, ", "))
	}
	// A process from a buildpack with API >= 0.9 is always direct and its args are
	// defaults the user may replace; command[1:] is always kept (buildpack.md, Launch).
	modern := false
	if p.BuildpackID != "" {
		v, ok := bpAPIs[p.BuildpackID]
		if !ok {
			return selected{}, fmt.Errorf("process type %q comes from buildpack %q, which is not in %s",
				p.Type, p.BuildpackID, l.metadataPath())
		}
		modern = v.atLeast(bpNoShell)
	}
	s := selected{
		Type:       p.Type,
		Command:    slices.Clone(p.Command),
		Direct:     modern || p.Direct,
		WorkingDir: l.workingDir(p.WorkingDir),
	}
	if modern && plat.atLeast(platformOverridableArgs) && len(userArgs) > 0 {
		s.Args = slices.Clone(userArgs)
	} else {
		s.Args = append(slices.Clone(p.Args), userArgs...)
	}
	s.Script = !s.Direct && len(s.Command) == 1 && len(s.Args) == 0
	return s, nil
}

// workingDir resolves a process working-dir; relative paths are relative to the app
// dir, and none means the app dir (buildpack.md, Launch).
func (l *Launcher) workingDir(wd string) string {
	switch {
	case wd == "":
		return l.AppDir
	case filepath.IsAbs(wd):
		return wd
	default:
		return filepath.Join(l.AppDir, wd)
	}
}

func (l *Launcher) execEnv() string {
	if l.ExecEnv == "" {
		return "production"
	}
	return l.ExecEnv
}

// eligible reports whether a process with the given exec-env list may run in current:
// no list, "*", or a list naming current (buildpack.md, Launch, P >= 0.15).
func eligible(list []string, current string) bool {
	return len(list) == 0 || slices.Contains(list, "*") || slices.Contains(list, current)
}

// execution turns a selected process and its environment into the exec call.
func (l *Launcher) execution(self string, s selected, env *Env, bpAPIs map[string]apiVersion) (*Execution, error) {
	l.classicHome(env)
	x := &Execution{Type: s.Type, Env: env.List(), Dir: s.WorkingDir}
	if s.Direct {
		path, err := lookPath(s.Command[0], env.Get("PATH"), s.WorkingDir)
		if err != nil {
			return nil, err
		}
		x.Path = path
		x.Argv = append(slices.Clone(s.Command), s.Args...)
		return x, nil
	}
	profiles, err := l.profiles(s.Type, bpAPIs)
	if err != nil {
		return nil, err
	}
	x.Path = shellPath
	x.Argv = append([]string{"bash", "-c", shellScript(profiles, s.Script, len(s.Command)+len(s.Args)), self},
		append(slices.Clone(s.Command), s.Args...)...)
	return x, nil
}

// shellScript is the bash program for a non-direct process (buildpack.md, Launch; buildpack.md, Launch (environment) step 4).
// The outer bash gets $0 = the launcher and $1… = the command words. It sources the legacy
// profile scripts, then execs a fresh bash: a lone command word runs as a script; several
// words each undergo one round of variable expansion but stay one argument each, as
// with the reference lifecycle.
func shellScript(profiles []string, script bool, nWords int) string {
	var b strings.Builder
	for _, p := range profiles {
		b.WriteString("source " + singleQuote(p) + "\n")
	}
	if script {
		b.WriteString(`exec bash -c "$@"`)
		return b.String()
	}
	words := make([]string, nWords)
	for i := range words {
		ref := "$0"
		if i > 0 {
			ref = fmt.Sprintf("${%d}", i)
		}
		words[i] = `"$(eval echo \"` + ref + `\")"`
	}
	b.WriteString("exec bash -c '" + strings.Join(words, " ") + `' "${@:1}"`)
	return b.String()
}

func singleQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// profiles lists the legacy scripts sourced before a shell process: profile.d and
// profile.d/<type> of layers of buildpacks with API < 0.9, then <app>/.profile when the
// group still has such a buildpack (buildpack.md, Launch (environment) step 4, docs/spec-notes.md, API versions B0.9).
func (l *Launcher) profiles(procType string, bpAPIs map[string]apiVersion) ([]string, error) {
	var out []string
	legacy := false
	for _, bp := range l.Metadata.Buildpacks {
		if bpAPIs[bp.ID].atLeast(bpNoShell) {
			continue
		}
		legacy = true
		layers, err := subdirs(filepath.Join(l.LayersDir, strings.ReplaceAll(bp.ID, "/", "_")))
		if err != nil {
			return nil, err
		}
		for _, layer := range layers {
			scripts, err := files(filepath.Join(layer, "profile.d"))
			if err != nil {
				return nil, err
			}
			out = append(out, scripts...)
			if procType != "" {
				if scripts, err = files(filepath.Join(layer, "profile.d", procType)); err != nil {
					return nil, err
				}
				out = append(out, scripts...)
			}
		}
	}
	out = append(out, l.appProfileD()...)
	if legacy {
		p := filepath.Join(l.AppDir, ".profile")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			out = append(out, p)
		}
	}
	return out, nil
}

// lookPath finds file on the launch env's PATH (not the launcher's own), resolving
// relative entries against dir, the directory the process will run in.
func lookPath(file, path, dir string) (string, error) {
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	if strings.Contains(file, "/") {
		p := abs(file)
		if err := executable(p); err != nil {
			return "", fmt.Errorf("find command %s: %w", file, err)
		}
		return p, nil
	}
	for _, d := range filepath.SplitList(path) {
		if d == "" {
			d = "."
		}
		p := filepath.Join(abs(d), file)
		if executable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("find command %q: not found on PATH %q of the launch environment", file, path)
}

func executable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return &fs.PathError{Op: "exec", Path: p, Err: fs.ErrPermission}
	}
	return nil
}
