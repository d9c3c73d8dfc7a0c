package launch

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"

	"github.com/BurntSushi/toml"
)

// execDDir runs every executable directly in dir, in name order (buildpack.md, Exec.d).
func (l *Launcher) execDDir(ctx context.Context, dir string, env *Env) error {
	paths, err := files(dir)
	if err != nil {
		return err
	}
	for _, f := range paths {
		if err := l.execD(ctx, f, env); err != nil {
			return err
		}
	}
	return nil
}

// execD runs one exec.d executable in the app dir with the env built so far, handing it
// fd 3 (a pipe) on which it writes TOML `KEY = "value"` pairs; those override env.
// A non-zero exit aborts the launch (buildpack.md, Exec.d).
func (l *Launcher) execD(ctx context.Context, path string, env *Env) error {
	pr, pw, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("run exec.d %s: create pipe: %w", path, err)
	}
	defer pr.Close()
	cmd := exec.CommandContext(ctx, path)
	cmd.Dir = l.AppDir
	cmd.Env = env.List()
	// nil writers mean /dev/null for the child, with no copying goroutine.
	cmd.Stdout = l.Stdout
	cmd.Stderr = l.Stderr
	cmd.ExtraFiles = []*os.File{pw} // becomes fd 3
	err = cmd.Start()
	pw.Close() // only the child holds the write end now, so the read below ends when it exits
	if err != nil {
		return fmt.Errorf("run exec.d %s: %w", path, err)
	}
	out, readErr := io.ReadAll(pr)
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("exec.d %s failed (launch aborted): %w", path, err)
	}
	if readErr != nil {
		return fmt.Errorf("read output of exec.d %s: %w", path, readErr)
	}
	vars := map[string]string{}
	if err := toml.Unmarshal(out, &vars); err != nil {
		return fmt.Errorf("parse output of exec.d %s (want TOML lines KEY = \"value\" on fd 3): %w", path, err)
	}
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env.Set(k, vars[k])
	}
	return nil
}
