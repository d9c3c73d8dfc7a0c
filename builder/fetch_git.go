package builder

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

var fullCommit = regexp.MustCompile(`^[0-9a-f]{40}$`)

// fetchGit resolves ref (a branch, tag or full commit; empty means the remote HEAD) of repo
// with `git ls-remote` and returns a checkout of that commit kept under cacheDir/<commit>:
// a commit seen before is not fetched again. It runs the git binary, so the user's git
// configuration (credentials, proxies, insteadOf) applies.
func fetchGit(ctx context.Context, repo, ref, cacheDir string) (tree, commit string, err error) {
	if _, err := exec.LookPath("git"); err != nil {
		return "", "", fmt.Errorf("fetch buildpack %s: git is not installed; install git or download the buildpack and pass its path", repo)
	}
	fetchRef := ref
	if fullCommit.MatchString(ref) {
		commit = ref
	} else {
		commit, fetchRef, err = lsRemote(ctx, repo, ref)
		if err != nil {
			return "", "", err
		}
	}
	tree = filepath.Join(cacheDir, commit)
	if fi, err := os.Stat(tree); err == nil && fi.IsDir() {
		return tree, commit, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", "", fmt.Errorf("fetch buildpack %s: %w", repo, err)
	}
	tmp, err := os.MkdirTemp(cacheDir, ".fetch-*")
	if err != nil {
		return "", "", fmt.Errorf("fetch buildpack %s: %w", repo, err)
	}
	defer os.RemoveAll(tmp)
	for _, args := range [][]string{
		{"init", "-q", tmp},
		{"-C", tmp, "fetch", "-q", "--depth", "1", repo, fetchRef},
		{"-C", tmp, "checkout", "-q", "--detach", "FETCH_HEAD"},
	} {
		if _, err := runGit(ctx, args...); err != nil {
			return "", "", fmt.Errorf("fetch buildpack %s#%s: %w", repo, ref, err)
		}
	}
	head, err := runGit(ctx, "-C", tmp, "rev-parse", "HEAD")
	if err != nil {
		return "", "", fmt.Errorf("fetch buildpack %s#%s: %w", repo, ref, err)
	}
	if got := strings.TrimSpace(head); got != commit {
		return "", "", fmt.Errorf("fetch buildpack %s#%s: fetched commit %s, expected %s (the ref moved while fetching); try again", repo, ref, got, commit)
	}
	if err := os.RemoveAll(filepath.Join(tmp, ".git")); err != nil {
		return "", "", fmt.Errorf("fetch buildpack %s: %w", repo, err)
	}
	// MkdirTemp made the checkout's root 0700; the buildpack runs as the CNB user.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", "", fmt.Errorf("fetch buildpack %s: %w", repo, err)
	}
	if err := os.Rename(tmp, tree); err != nil && !errors.Is(err, fs.ErrExist) {
		// A concurrent build may have put the same commit in place first: that copy is as good.
		if fi, statErr := os.Stat(tree); statErr != nil || !fi.IsDir() {
			return "", "", fmt.Errorf("fetch buildpack %s: %w", repo, err)
		}
	}
	return tree, commit, nil
}

// lsRemote resolves ref to a commit: a tag (peeled), then a branch, then the remote HEAD
// when ref is empty. It returns the commit and the full ref name to fetch.
func lsRemote(ctx context.Context, repo, ref string) (commit, fullRef string, err error) {
	out, err := runGit(ctx, "ls-remote", repo)
	if err != nil {
		return "", "", fmt.Errorf("fetch buildpack %s: %w; check the URL and that this machine can reach it", repo, err)
	}
	refs := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if sha, name, ok := strings.Cut(sc.Text(), "\t"); ok {
			refs[name] = sha
		}
	}
	if ref == "" {
		if sha, ok := refs["HEAD"]; ok {
			return sha, "HEAD", nil
		}
		return "", "", fmt.Errorf("fetch buildpack %s: the repository has no HEAD; name a branch or tag with #ref", repo)
	}
	for _, name := range []string{"refs/tags/" + ref, "refs/heads/" + ref, ref} {
		if sha, ok := refs[name+"^{}"]; ok {
			return sha, name, nil
		}
		if sha, ok := refs[name]; ok {
			return sha, name, nil
		}
	}
	return "", "", fmt.Errorf("fetch buildpack %s: ref %q is neither a branch nor a tag there; name an existing branch, tag or full commit after '#'", repo, ref)
}

// runGit runs git without prompting for credentials and returns its stdout; an error
// carries the last line git printed.
func runGit(ctx context.Context, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		return "", fmt.Errorf("git %s: %v: %s", args[0], err, msg)
	}
	return stdout.String(), nil
}
