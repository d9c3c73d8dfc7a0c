package defaultbuilder

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipway/slipway/builder"
	"github.com/slipway/slipway/buildpack"
	"github.com/slipway/slipway/imagestore"
	"github.com/slipway/slipway/logging"
	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/stack"
)

// Options are what Ensure needs to make the default builder.
type Options struct {
	Store *imagestore.Store
	// WorkDir holds the .deb download cache and scratch space.
	WorkDir string
	// LifecycleBinary and LauncherPath go into the builder's /cnb/lifecycle.
	LifecycleBinary string
	LauncherPath    string
	// Phases are the lifecycle phase names the binary answers to.
	Phases  []string
	Version string
	Log     *logging.Logger
	// Buildpacks, when this binary embeds none, are the buildpacks to use instead, in the
	// layout `go run ./internal/defaultbuilder/gen` writes (internal/bootstrap builds them).
	Buildpacks fs.FS
}

// Available reports whether this binary carries the default builder's buildpacks.
func Available() bool { return assets() != nil }

// order is the default builder's detection order: PHP apps, then Ruby apps (both first: a
// PHP or Rails app often has a package.json for its front-end assets), then Java apps (a
// Spring Boot app may have one too), then front-end
// Node.js apps that BP_WEB_SERVER asks to serve as static files (slipway/web-server
// requires node-static-build, which only slipway/nodejs before it provides), then Node.js apps, then Go apps, then Python
// apps, then static sites (last: an index.html or nginx.conf of an app a language
// buildpack claims is that app's), each with an optional Procfile on top, else any app
// with a Procfile. An Aptfile's packages come first in every group (optional), so the
// language buildpacks can use them.
var order = buildpack.Order{
	{Group: []buildpack.GroupElement{{ID: "slipway/apt", Optional: true}, {ID: "slipway/php"}, {ID: "slipway/procfile", Optional: true}}},
	{Group: []buildpack.GroupElement{{ID: "slipway/apt", Optional: true}, {ID: "slipway/ruby"}, {ID: "slipway/procfile", Optional: true}}},
	{Group: []buildpack.GroupElement{{ID: "slipway/apt", Optional: true}, {ID: "slipway/java"}, {ID: "slipway/procfile", Optional: true}}},
	{Group: []buildpack.GroupElement{{ID: "slipway/apt", Optional: true}, {ID: "slipway/nodejs"}, {ID: "slipway/web-server"}, {ID: "slipway/procfile", Optional: true}}},
	{Group: []buildpack.GroupElement{{ID: "slipway/apt", Optional: true}, {ID: "slipway/nodejs"}, {ID: "slipway/procfile", Optional: true}}},
	{Group: []buildpack.GroupElement{{ID: "slipway/apt", Optional: true}, {ID: "slipway/go"}, {ID: "slipway/procfile", Optional: true}}},
	{Group: []buildpack.GroupElement{{ID: "slipway/apt", Optional: true}, {ID: "slipway/python"}, {ID: "slipway/procfile", Optional: true}}},
	{Group: []buildpack.GroupElement{{ID: "slipway/apt", Optional: true}, {ID: "slipway/web-server"}, {ID: "slipway/procfile", Optional: true}}},
	{Group: []buildpack.GroupElement{{ID: "slipway/apt", Optional: true}, {ID: "slipway/procfile"}}},
}

// Ensure returns the local store name of the default builder, making the default stack
// and the builder first if the store does not have them. The name carries a hash of the
// embedded buildpacks, the stack definition and slipway's version, so a new slipway makes
// a new builder instead of reusing a stale one.
func Ensure(ctx context.Context, o Options) (string, error) {
	fsys := assets()
	if fsys == nil {
		fsys = o.Buildpacks
	}
	if fsys == nil {
		return "", errors.New("this slipway was built without the default builder's buildpacks (build it with `make build`); pass --builder with a builder.toml or builder image")
	}
	sum, err := fingerprint(fsys, o.Version)
	if err != nil {
		return "", err
	}
	name := "slipway/default-builder:" + sum
	if _, err := o.Store.Image(name); err == nil {
		return name, nil
	} else if !isNotFound(err) {
		return "", err
	}
	log := o.Log
	if log == nil {
		log = logging.Discard()
	}
	log.Infof("Making the default builder %s (first use; it is kept in the local store)", name)

	def, err := stack.Default()
	if err != nil {
		return "", err
	}
	buildImg, err := ensureStack(ctx, o, def, log)
	if err != nil {
		return "", err
	}
	scratch, err := os.MkdirTemp(o.WorkDir, "default-builder-")
	if err != nil {
		return "", fmt.Errorf("make the default builder: %w", err)
	}
	defer os.RemoveAll(scratch)
	bpDir := filepath.Join(scratch, "buildpacks")
	descs, err := materialize(fsys, bpDir)
	if err != nil {
		return "", err
	}
	cfg := &builder.Config{
		Description: "Slipway's default builder: PHP, Ruby, Node.js, Go, Python, web server (static sites), Procfile and Apt buildpacks on Debian 12 (bookworm)",
		Order:       order,
		Build:       builder.BuildConfig{Image: def.Build.Image},
		Run:         builder.RunConfig{Images: []platform.RunImage{{Image: def.Run.Image}}},
	}
	for _, d := range descs {
		cfg.Buildpacks = append(cfg.Buildpacks, builder.BuildpackConfig{ID: d.Buildpack.ID, Version: d.Buildpack.Version, URI: d.Dir})
	}
	for gi := range cfg.Order {
		for ei, e := range cfg.Order[gi].Group {
			for _, d := range descs {
				if d.Buildpack.ID == e.ID {
					cfg.Order[gi].Group[ei].Version = d.Buildpack.Version
				}
			}
		}
	}
	img, err := builder.Create(ctx, builder.CreateOptions{
		Config: cfg, Buildpacks: descs, BuildImage: buildImg,
		LifecycleBinary: o.LifecycleBinary, Phases: o.Phases, LauncherPath: o.LauncherPath,
		Version: o.Version, ScratchDir: scratch,
	})
	if err != nil {
		return "", fmt.Errorf("make the default builder: %w", err)
	}
	if _, err := o.Store.Write(ctx, name, img); err != nil {
		return "", fmt.Errorf("store the default builder: %w", err)
	}
	return name, nil
}

// ensureStack returns the default build image, building the default stack into the store
// when either of its images is missing.
func ensureStack(ctx context.Context, o Options, def *stack.Definition, log *logging.Logger) (v1.Image, error) {
	buildImg, berr := o.Store.Image(def.Build.Image)
	_, rerr := o.Store.Image(def.Run.Image)
	if berr == nil && rerr == nil {
		return buildImg, nil
	}
	for _, err := range []error{berr, rerr} {
		if err != nil && !isNotFound(err) {
			return nil, err
		}
	}
	log.Infof("Building the default stack (%s, %s) from Debian packages", def.Build.Image, def.Run.Image)
	res, err := stack.Build(ctx, def, stack.BuildOptions{CacheDir: filepath.Join(o.WorkDir, "debs"), TempDir: o.WorkDir, Log: log})
	if err != nil {
		return nil, fmt.Errorf("build the default stack: %w", err)
	}
	for _, b := range []stack.BuiltImage{res.Build, res.Run} {
		if _, err := o.Store.Write(ctx, b.Name, b.Image); err != nil {
			return nil, fmt.Errorf("store %s: %w", b.Name, err)
		}
	}
	return res.Build.Image, nil
}

func isNotFound(err error) bool {
	var nf *imagestore.NotFoundError
	return errors.As(err, &nf)
}

// materialize writes the embedded buildpacks to dir with executable bin/ files and
// bin/detect as a link to bin/build, and reads their descriptors.
func materialize(fsys fs.FS, dir string) ([]*buildpack.Descriptor, error) {
	var descs []*buildpack.Descriptor
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		mode := os.FileMode(0o644)
		if path.Base(path.Dir(p)) == "bin" {
			mode = 0o755
		}
		if err := copyFile(fsys, p, dst, mode); err != nil {
			return err
		}
		if path.Base(p) == "build" && mode == 0o755 {
			if err := os.Symlink("build", filepath.Join(filepath.Dir(dst), "detect")); err != nil {
				return err
			}
		}
		if path.Base(p) == "buildpack.toml" {
			desc, err := buildpack.ReadDescriptor(filepath.Dir(dst))
			if err != nil {
				return err
			}
			descs = append(descs, desc)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("write the default builder's buildpacks: %w", err)
	}
	return descs, nil
}

func copyFile(fsys fs.FS, p, dst string, mode os.FileMode) error {
	in, err := fsys.Open(p)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// fingerprint hashes the embedded buildpacks, the default stack definition and version.
func fingerprint(fsys fs.FS, version string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "slipway %s\n", version)
	h.Write(stack.DefaultConfig())
	var files []string
	if err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return err
	}); err != nil {
		return "", err
	}
	sort.Strings(files)
	for _, p := range files {
		f, err := fsys.Open(p)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\n", p)
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}
