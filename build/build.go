package build

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/slipway/slipway/version"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipway/slipway/api"
	"github.com/slipway/slipway/builder"
	"github.com/slipway/slipway/buildpack"
	"github.com/slipway/slipway/imagestore"
	"github.com/slipway/slipway/lifecycle"
	"github.com/slipway/slipway/logging"
	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/project"
	"github.com/slipway/slipway/registry"
	"github.com/slipway/slipway/sandbox"
	"github.com/slipway/slipway/stack"
)

// Options is one `slipway build`.
type Options struct {
	// Image is the output image name: a local store name, or a registry reference with Publish.
	Image string
	// AppDir is the application source directory.
	AppDir string
	// Builder is a pack-compatible builder.toml path or a builder image reference (ours or
	// one made by `pack builder create`), looked up in the local store, then its registry.
	// Empty means project.toml's builder, else DefaultBuilder.
	Builder string
	// DefaultBuilder names the builder to use when neither Builder nor project.toml does.
	DefaultBuilder func(ctx context.Context) (string, error)
	// Buildpacks, when set, replace the builder's order with one group (pack's --buildpack).
	Buildpacks []string
	// RunImage overrides the builder's run image.
	RunImage string
	// Descriptor is the project.toml path; default <AppDir>/project.toml when present.
	Descriptor string
	// Env are KEY=VALUE build-time variables for buildpacks (--env), written to <platform>/env.
	Env []string
	// DefaultProcess selects the image's default process type (--default-process).
	DefaultProcess string
	// Publish writes the image to its registry instead of the local store.
	Publish bool
	// Tags are extra names for the same image (-t).
	Tags []string
	// PreviousImage is the image whose layers may be reused; default Image (platform.md, analyzer).
	PreviousImage string
	// CacheDir is a volume cache (--cache-dir); default a per-image cache in WorkDir.
	CacheDir string
	// CacheImage is a registry cache image (--cache-image); it replaces the volume cache.
	CacheImage string
	// ClearCache ignores the cache when restoring (--clear-cache); the new cache is written.
	ClearCache bool
	// ReportDir, when set, receives report.toml (platform.md, Files).
	ReportDir string
	// Volumes are pack-style HOST:CONTAINER[:ro|rw] mounts into the build sandbox (--volume).
	Volumes []string
	// Bindings are NAME=DIR service bindings provided at <platform>/bindings/NAME (--binding).
	Bindings []string
	// CACertificates are PEM files of extra CAs the sandbox trusts (--ca-certificates).
	CACertificates []string
	// Hook, when set, is called at named points ("export-before-write", "export-written",
	// "cache-staged", "cache-swapping", "cache-swapped"); tests use it to simulate a crash.
	Hook func(point string)

	Store    *imagestore.Store
	Registry registry.Options
	Executor sandbox.Executor
	// Network is the network buildpacks see (--network); the zero value is private.
	Network sandbox.Network
	// WorkDir holds per-app build directories and unpacked build images.
	WorkDir string
	// LifecycleBinary is the static slipway binary run inside the sandbox as the phases.
	LifecycleBinary string
	// LauncherPath is the static launcher binary copied into every image.
	LauncherPath string
	// SourceDateEpoch, when non-zero, is the image creation time; default 1980-01-01T00:00:01Z.
	SourceDateEpoch time.Time
	Log             *logging.Logger
}

// Result describes the image a build produced.
type Result struct {
	Image  v1.Image
	Digest v1.Hash
	// Names are the references the image was written to.
	Names []string
	// Phases are the durations of each phase, in order.
	Phases []PhaseTiming
}

// PhaseTiming is how long one phase took.
type PhaseTiming struct {
	Name     string
	Duration time.Duration
}

// reproducibleEpoch is the creation time of every layer entry and image (platform.md, Build Reproducibility).
var reproducibleEpoch = time.Date(1980, 1, 1, 0, 0, 1, 0, time.UTC)

// Build runs analyze, detect, build and export, then writes the image. A failure at any
// point leaves the store and the registry as they were: the image is written last, atomically.
func Build(ctx context.Context, o Options) (*Result, error) {
	log := o.Log
	if log == nil {
		log = logging.Discard()
	}
	res := &Result{}
	phase := func(name string, fn func() error) error {
		done := log.Phase(name)
		err := fn()
		res.Phases = append(res.Phases, PhaseTiming{name, done(err)})
		return err
	}

	if err := checkAppDir(o.AppDir); err != nil {
		return nil, err
	}
	if _, err := readUserMounts(o); err != nil {
		return nil, err
	}
	proj, err := readProject(o.AppDir, o.Descriptor)
	if err != nil {
		return nil, err
	}
	builderRef, err := chooseBuilder(ctx, o, proj)
	if err != nil {
		return nil, err
	}

	dirs, unlock, err := openAppDirs(o.WorkDir, o.Image)
	if err != nil {
		return nil, err
	}
	defer unlock()

	var (
		cfg              *builder.Config
		buildImg, runImg *resolvedImage
		rootfs           string
		uid, gid         int
		runTarget        platform.TargetMetadata
		order            buildpack.Order
		analysis         *lifecycle.Analysis
	)
	err = phase("ANALYZING", func() error {
		if cfg, buildImg, err = loadBuilder(ctx, o, builderRef); err != nil {
			return err
		}
		if err := project.CopyApp(ctx, o.AppDir, dirs.workspace, proj.includes(), proj.excludes()); err != nil {
			return fmt.Errorf("copy app %s: %w", o.AppDir, err)
		}
		if order, err = prepareBuildpacks(ctx, cfg, proj, o, dirs); err != nil {
			return err
		}
		if err := writePlatformEnv(dirs.platform, proj.env(), o.Env); err != nil {
			return err
		}
		if err := writeBuildConfigEnv(filepath.Join(dirs.cnb, "build-config", "env"), cfg.Build.Env); err != nil {
			return err
		}
		var cands []lifecycle.RunImageCandidates
		for _, ri := range cfg.Run.Images {
			cands = append(cands, lifecycle.RunImageCandidates{Image: ri.Image, Mirrors: ri.Mirrors})
		}
		if len(cands) == 0 && o.RunImage == "" {
			return fmt.Errorf("no run image: builder %s names none ([[run.images]]); pass --run-image", builderRef)
		}
		prevSrc := imageSource{store: o.Store, reg: o.Registry, storeOnly: !o.Publish, regOnly: o.Publish}
		analysis, err = lifecycle.Analyze(ctx, lifecycle.AnalyzeInputs{
			OutputImage: o.Image, PreviousImage: o.PreviousImage, RunImage: o.RunImage, RunImages: cands,
			Images: imageSource{store: o.Store, reg: o.Registry}, PreviousImages: prevSrc,
		})
		if err != nil {
			return platform.NewError(platform.CodeAnalyzeError, err)
		}
		runImg = &resolvedImage{Name: analysis.RunImageName, Reference: analysis.RunImageRef, Image: analysis.RunImage, mirrors: analysis.RunImageMirrors}
		if ref, ok := storeReference(o.Store, runImg.Name, runImg.Image); ok {
			runImg.Reference = ref
		}
		if analysis.Previous != nil {
			log.Debugf("previous image: %s", analysis.PreviousRef)
		}
		bcfg, err := buildImg.Image.ConfigFile()
		if err != nil {
			return fmt.Errorf("read config of build image %s: %w", buildImg.Name, err)
		}
		if uid, gid, err = cnbUser(bcfg, buildImg.Name); err != nil {
			return err
		}
		rcfg, err := runImg.Image.ConfigFile()
		if err != nil {
			return fmt.Errorf("read config of run image %s: %w", runImg.Name, err)
		}
		runTarget = platform.TargetOf(rcfg)
		if rootfs, err = sandbox.Unpack(ctx, buildImg.Image, filepath.Join(o.WorkDir, "rootfs")); err != nil {
			return fmt.Errorf("unpack build image %s: %w", buildImg.Name, err)
		}
		// docs/spec-notes.md, Target matching (reference lifecycle): a run image without distro labels is taken to be the
		// distro of the build container, read from its os-release.
		if runTarget.Distro == nil {
			if name, version, ok := stack.OSRelease(rootfs); ok {
				runTarget.Distro = &platform.TargetDistro{Name: name, Version: version}
			}
		}
		// The builder's system buildpacks go around every group, --buildpack groups included,
		// as pack does (platform.md, system.toml (TOML), Platform API 0.15).
		order = cfg.System.WithSystem(order)
		if err := buildpack.WriteTOMLFile(filepath.Join(dirs.cnb, "order.toml"), buildpack.OrderFile{Order: order}); err != nil {
			return err
		}
		analyzed := platform.Analyzed{RunImage: &platform.AnalyzedRun{Reference: runImg.Reference, Image: runImg.Name, Target: &runTarget}}
		if err := buildpack.WriteTOMLFile(filepath.Join(dirs.layers, "analyzed.toml"), analyzed); err != nil {
			return err
		}
		// A builder image carries its operator env at /cnb/build-config/env, which the
		// per-build /cnb bind hides: carry it over (builder.toml [[build.env]] wins).
		return copyMissingFiles(filepath.Join(rootfs, "cnb", "build-config", "env"), filepath.Join(dirs.cnb, "build-config", "env"))
	})
	if err != nil {
		return nil, err
	}

	bcfg, _ := buildImg.Image.ConfigFile()
	phases, err := newPhaseRunner(o, dirs, rootfs, buildImg.Name, bcfg.Config.Env, uid, gid, log)
	if err != nil {
		return nil, err
	}
	run := func(name string, args ...string) error { return phases.run(ctx, name, args...) }
	common := []string{"-app", platform.AppDir, "-layers", platform.LayersDir, "-platform", platform.PlatformDir,
		"-buildpacks", platform.BuildpacksDir, "-build-config", platform.BuildConfigDir,
		"-analyzed", platform.LayersDir + "/analyzed.toml",
		"-group", platform.LayersDir + "/group.toml", "-plan", platform.LayersDir + "/plan.toml"}
	if log.IsDebug() {
		common = append(common, "-log-level", "debug")
	}
	if err := phase("DETECTING", func() error {
		return run("detector", append(common, "-order", platform.CNBDir+"/order.toml")...)
	}); err != nil {
		return nil, err
	}
	var group buildpack.GroupFile
	if err := buildpack.DecodeTOMLFile(filepath.Join(dirs.layers, "group.toml"), &group); err != nil {
		return nil, err
	}
	created := o.SourceDateEpoch
	if created.IsZero() {
		created = reproducibleEpoch
	}
	c, cacheMeta, err := openCache(ctx, o, dirs, log)
	if err != nil {
		return nil, platform.NewError(platform.CodeRestoreError, err)
	}
	defer c.Close()
	var restored *lifecycle.RestoreReport
	err = phase("RESTORING", func() error {
		in := lifecycle.RestoreInputs{LayersDir: dirs.layers, Group: group.Group, Cache: c, CacheMetadata: cacheMeta,
			Previous: analysis.PreviousMetadata, UID: uid, GID: gid, Created: created, Warn: log.Warnf}
		if o.ClearCache {
			in.Cache, in.CacheMetadata = nil, nil
			log.Infof("--clear-cache: not restoring cached layers")
		}
		var err error
		if restored, err = lifecycle.Restore(ctx, in); err != nil {
			return platform.NewError(platform.CodeRestoreError, err)
		}
		for _, l := range restored.Layers {
			if l.Contents != "" {
				log.Debugf("restored cache layer %s:%s: %s", l.Buildpack, l.Name, l.Contents)
			} else {
				log.Debugf("restored metadata of layer %s:%s from the previous image", l.Buildpack, l.Name)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := phase("BUILDING", func() error { return run("builder", common...) }); err != nil {
		return nil, err
	}
	warnUntypedRestored(dirs.layers, restored.Layers, log)

	var img v1.Image
	err = phase("EXPORTING", func() error {
		var rep *lifecycle.ExportReport
		img, rep, err = lifecycle.Export(ctx, lifecycle.ExportInputs{
			LayersDir:          dirs.layers,
			AppDir:             dirs.workspace,
			Group:              group.Group,
			RunImage:           runImg.Image,
			RunImageRef:        runImg.Reference,
			RunImageName:       runImg.Name,
			RunImageMirrors:    runImg.mirrors,
			LauncherPath:       o.LauncherPath,
			ProjectMetadata:    proj.metadata(),
			DefaultProcessType: o.DefaultProcess,
			PreviousImage:      analysis.Previous,
			Reuse:              readExportState(dirs),
			UID:                uid,
			GID:                gid,
			Created:            created,
			PlatformAPI:        api.DefaultPlatform.String(),
			LauncherVersion:    version.Version,
			ScratchDir:         dirs.scratch,
		})
		if err != nil {
			return platform.NewError(platform.CodeExportError, err)
		}
		for _, l := range rep.Layers {
			reason := l.Reason
			if reason == "" {
				reason = "rebuilt"
			}
			log.Debugf("layer %s: %s %s", l.Name, reason, l.DiffID)
		}
		hook(o, "export-before-write")
		if err := writeImage(ctx, o, img, res); err != nil {
			return err
		}
		hook(o, "export-written")
		if err := writeExportState(dirs, o.Image, rep); err != nil {
			log.Warnf("record layer fingerprints: %v; the next build re-creates every layer", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Errors while writing the cache are warnings: the image is already written (platform.md, Layer Restoration).
	_ = phase("CACHING", func() error {
		crep, err := lifecycle.ExportCache(ctx, lifecycle.CacheExportInputs{
			LayersDir: dirs.layers, Group: group.Group, Cache: c, Previous: cacheMeta,
			Restored: restored.Layers, UID: uid, GID: gid, Created: created,
		})
		if crep != nil {
			for _, w := range crep.Warnings {
				log.Warnf("%s", w)
			}
			for _, l := range crep.Layers {
				log.Debugf("cache layer %s: %s %s", l.Name, l.Reason, l.DiffID)
			}
		}
		if err != nil {
			log.Warnf("write build cache: %v; the image is fine, the next build may be slower", err)
		}
		return nil
	})
	if o.ReportDir != "" {
		if err := writeReport(o, res, img); err != nil {
			return nil, err
		}
	}
	res.Image = img
	return res, nil
}

func hook(o Options, point string) {
	if o.Hook != nil {
		o.Hook(point)
	}
}

// writeImage writes img under the image name and every tag, all or nothing as far as the
// target allows: the store commits every name in one index update; publishing uploads the
// whole image before it moves any tag (publish).
func writeImage(ctx context.Context, o Options, img v1.Image, res *Result) error {
	names := append([]string{o.Image}, o.Tags...)
	var d v1.Hash
	var err error
	if o.Publish {
		d, err = registry.Publish(ctx, names, img, o.Registry, progressTo(o.Log))
	} else {
		d, err = o.Store.WriteMany(ctx, names, img)
	}
	if err != nil {
		return platform.NewError(platform.CodeExportError, fmt.Errorf("write image %s: %w", strings.Join(names, ", "), err))
	}
	res.Digest = d
	res.Names = append(res.Names, names...)
	return nil
}

// writeReport writes <ReportDir>/report.toml (platform.md, Files): digest and manifest size for
// a registry image, the image ID (config digest) for a local one.
func writeReport(o Options, res *Result, img v1.Image) error {
	rep := platform.Report{Image: platform.ImageReport{Tags: res.Names}}
	if o.Publish {
		rep.Image.Digest = res.Digest.String()
		if n, err := img.Size(); err == nil {
			rep.Image.ManifestSize = n
		}
	} else if id, err := img.ConfigName(); err == nil {
		rep.Image.ImageID = id.String()
		rep.Image.Digest = res.Digest.String()
	}
	if err := os.MkdirAll(o.ReportDir, 0o755); err != nil {
		return fmt.Errorf("--report-output-dir %s: %w", o.ReportDir, err)
	}
	return buildpack.WriteTOMLFile(filepath.Join(o.ReportDir, "report.toml"), rep)
}

func checkAppDir(dir string) error {
	if dir == "" {
		return errors.New("no app directory: pass --path DIR")
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("app directory %s: %w (pass an existing directory with --path)", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("app path %s is not a directory (pass a directory with --path)", dir)
	}
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("app directory %s is not readable: %w", dir, err)
	}
	return f.Close()
}

// progressTo is where upload progress goes: the log at info level, nowhere when quieter.
func progressTo(log *logging.Logger) func(string, ...any) {
	if log == nil || log.Level < logging.Info {
		return nil
	}
	return log.Infof
}
