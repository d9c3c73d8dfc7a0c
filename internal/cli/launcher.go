package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/slipway/slipway/atomicfile"

	"github.com/slipway/slipway/internal/bootstrap"
	"github.com/slipway/slipway/internal/launcherbin"
)

// launcherPath finds the static launcher copied into every image: $SLIPWAY_LAUNCHER, the
// one embedded in this binary (materialised once under workDir), slipway-launcher next
// to the slipway executable, or — for a slipway from plain `go install` — one built once
// from the same source (internal/bootstrap).
func launcherPath(ctx context.Context, g *globals, workDir string) (string, error) {
	if p := os.Getenv("SLIPWAY_LAUNCHER"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("SLIPWAY_LAUNCHER=%s: %w", p, err)
		}
		return p, nil
	}
	if b := launcherbin.Binary(); b != nil {
		sum := sha256.Sum256(b)
		p := filepath.Join(workDir, "launcher", hex.EncodeToString(sum[:8]))
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", fmt.Errorf("write launcher: %w", err)
		}
		// Concurrent builds may materialise it at the same moment; each writes its own temp
		// file, and the rename makes whichever finishes last win with identical bytes.
		if err := atomicfile.Write(p, b, 0o755); err != nil {
			return "", fmt.Errorf("write launcher: %w", err)
		}
		return p, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the slipway binary: %w", err)
	}
	p := filepath.Join(filepath.Dir(exe), "slipway-launcher")
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	p, err = bootstrap.Launcher(ctx, bootstrap.Options{CacheDir: workDir, Logf: g.logger().Infof})
	if err != nil {
		return "", fmt.Errorf("no launcher: %w (or set SLIPWAY_LAUNCHER to a static build of ./cmd/launcher)", err)
	}
	return p, nil
}
