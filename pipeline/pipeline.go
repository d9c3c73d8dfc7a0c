package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/slipway/slipway/cache"
	"github.com/slipway/slipway/tomlfile"
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
	"github.com/slipway/slipway/publish"
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
	// Daemon loads the image into the Docker Engine API at DockerHost (Docker, or podman's
	// Docker-compatible service) instead of the local store; the previous image is read from
	// there, its layers from a launch cache in WorkDir (platform.md, exporter: -daemon, -launch-cache).
	Daemon     bool
	DockerHost string
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

	// daemon is the Docker Engine API of Daemon, opened before any work.
	daemon *publish.Daemon
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
	// Buildpacks is the part of Duration spent in buildpack processes (bin/detect, bin/build);
	// the rest is slipway's own time.
	Buildpacks time.Duration
}

// reproducibleEpoch is the creation time of every layer entry and image (platform.md, Build Reproducibility).
var reproducibleEpoch = time.Date(1980, 1, 1, 0, 0, 1, 0, time.UTC)

// Build prepares the workspace and runs the phases, then writes the image. A failure at any
// point leaves the store and the registry as they were: the image is written last, atomically.
// Each logged phase time measures that phase only; preparing the workspace is its own step.
func Build(ctx context.Context, o Options) (*Result, error) {
	if o.Log == nil {
		o.Log = logging.Discard()
	}
	res := &Result{}
	start := time.Now()
	if o.Daemon {
		if o.Publish {
			return nil, platform.NewError(platform.CodeInvalidArgs, errors.New("--daemon and --publish exclude each other: choose the Docker daemon or the registry"))
		}
		d, err := publish.OpenDaemonHost(ctx, o.DockerHost)
		if err != nil {
			return nil, err
		}
		defer d.Close()
		d.Progress = progressTo(o.Log)
		o.daemon = d
	}
	ws, err := prepare(ctx, o, res)
	if ws != nil {
		defer ws.unlock()
	}
	if err != nil {
		return nil, err
	}
	if err := runPhases(ctx, o, ws, res); err != nil {
		return nil, err
	}
	wall := time.Since(start)
	var bp time.Duration
	for _, p := range res.Phases {
		bp += p.Buildpacks
	}
	o.Log.Debugf("     slipway's own time %s (wall %s, buildpack processes %s)", round(wall-bp), round(wall), round(bp))
	return res, nil
}

func round(d time.Duration) time.Duration {
	if d > time.Second {
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(100 * time.Microsecond)
}

// sandboxPhase runs fn, a phase in the sandbox that reports its buildpack-process time.
func (r *Result) sandboxPhase(log *logging.Logger, name string, fn func() (time.Duration, error)) error {
	var bp time.Duration
	err := r.phase(log, name, func() error {
		var err error
		bp, err = fn()
		return err
	})
	last := &r.Phases[len(r.Phases)-1]
	last.Buildpacks = bp
	log.Debugf("     %s: %s in buildpack processes, %s slipway", name, round(bp), round(last.Duration-bp))
	return err
}

// phase runs fn as the named phase, logging and recording its time.
func (r *Result) phase(log *logging.Logger, name string, fn func() error) error {
	done := log.Phase(name)
	err := fn()
	r.Phases = append(r.Phases, PhaseTiming{Name: name, Duration: done(err)})
	return err
}

// workspace is everything the phases of one build need, prepared before they run.
type workspace struct {
	dirs      *appDirs
	unlock    func()
	proj      *projectFile
	cfg       *builder.Config
	buildImg  *resolvedImage
	runImg    *resolvedImage
	rootfs    string
	uid, gid  int
	analysis  *lifecycle.Analysis
	runTarget platform.TargetMetadata
}

// prepare is the PREPARING step: it reads project.toml and the builder, then, concurrently,
// copies the app into the workspace, lays out the buildpacks and platform files, unpacks the
// build image, and runs the analysis (previous image and run image), which needs none of
// those (platform.md, analyzer). The analysis is logged as its own phase with its own time.
func prepare(ctx context.Context, o Options, res *Result) (*workspace, error) {
	log := o.Log
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
	ws := &workspace{dirs: dirs, unlock: unlock, proj: proj}

	var (
		order       buildpack.Order
		analyzeTime time.Duration
		analyzeErr  error
	)
	err = res.phase(log, "PREPARING", func() error {
		if ws.cfg, ws.buildImg, err = loadBuilder(ctx, o, builderRef); err != nil {
			return err
		}
		bcfg, err := ws.buildImg.Image.ConfigFile()
		if err != nil {
			return fmt.Errorf("read config of build image %s: %w", ws.buildImg.Name, err)
		}
		if ws.uid, ws.gid, err = platform.CNBUser(bcfg.Config.Env, "build image "+ws.buildImg.Name); err != nil {
			return err
		}
		if ws.uid == 0 {
			return fmt.Errorf("build image %s: CNB_USER_ID is 0; buildpacks must not run as root (platform.md, Build Image)", ws.buildImg.Name)
		}
		var cands []lifecycle.RunImageCandidates
		for _, ri := range ws.cfg.Run.Images {
			cands = append(cands, lifecycle.RunImageCandidates{Image: ri.Image, Mirrors: ri.Mirrors})
		}
		if len(cands) == 0 && o.RunImage == "" {
			return fmt.Errorf("no run image: builder %s names none ([[run.images]]); pass --run-image", builderRef)
		}
		var wg sync.WaitGroup
		var copyErr, unpackErr, bpErr error
		wg.Add(4)
		go func() {
			defer wg.Done()
			start := time.Now()
			var prevSrc lifecycle.ImageSource = imageSource{store: o.Store, reg: o.Registry, storeOnly: !o.Publish, regOnly: o.Publish}
			if o.daemon != nil {
				prevSrc = daemonPrevious{o.daemon, launchCache(o)}
			}
			ws.analysis, analyzeErr = lifecycle.Analyze(ctx, lifecycle.AnalyzeInputs{
				OutputImage: o.Image, PreviousImage: o.PreviousImage, RunImage: o.RunImage, RunImages: cands,
				Images: imageSource{store: o.Store, reg: o.Registry}, PreviousImages: prevSrc,
			})
			analyzeTime = time.Since(start)
		}()
		go func() {
			defer wg.Done()
			if err := project.CopyApp(ctx, o.AppDir, dirs.workspace, proj.includes(), proj.excludes()); err != nil {
				copyErr = fmt.Errorf("copy app %s: %w", o.AppDir, err)
			}
		}()
		go func() {
			defer wg.Done()
			if ws.rootfs, unpackErr = sandbox.Unpack(ctx, ws.buildImg.Image, filepath.Join(o.WorkDir, "rootfs")); unpackErr != nil {
				unpackErr = fmt.Errorf("unpack build image %s: %w", ws.buildImg.Name, unpackErr)
			}
		}()
		go func() {
			defer wg.Done()
			if order, bpErr = prepareBuildpacks(ctx, ws.cfg, proj, o, dirs); bpErr != nil {
				return
			}
			if bpErr = writePlatformEnv(dirs.platform, proj.env(), o.Env); bpErr != nil {
				return
			}
			bpErr = writeBuildConfigEnv(filepath.Join(dirs.cnb, "build-config", "env"), ws.cfg.Build.Env)
		}()
		wg.Wait()
		if err := errors.Join(copyErr, unpackErr, bpErr); err != nil {
			return err
		}
		// The builder's system buildpacks go around every group, --buildpack groups included,
		// as pack does (platform.md, system.toml (TOML), Platform API 0.15).
		order = ws.cfg.System.WithSystem(order)
		if err := tomlfile.Write(filepath.Join(dirs.cnb, "order.toml"), platform.OrderFile{Order: order}); err != nil {
			return err
		}
		// A builder image carries its operator env at /cnb/build-config/env, which the
		// per-build /cnb bind hides: carry it over (builder.toml [[build.env]] wins).
		return copyMissingFiles(ws.rootfs, "cnb/build-config/env", filepath.Join(dirs.cnb, "build-config", "env"))
	})
	if err != nil {
		return ws, err
	}

	// ANALYZING ran during PREPARING; it is reported with its own time.
	log.Infof("===> ANALYZING")
	res.Phases = append(res.Phases, PhaseTiming{Name: "ANALYZING", Duration: analyzeTime})
	if analyzeErr != nil {
		log.Infof("     ANALYZING failed after %s", round(analyzeTime))
		return ws, platform.NewError(platform.CodeAnalyzeError, analyzeErr)
	}
	log.Infof("     ANALYZING done in %s (overlapped with PREPARING)", round(analyzeTime))
	return ws, finishAnalysis(o, ws)
}

// finishAnalysis records the run image and its target in analyzed.toml, as the analyzer
// phase does (platform.md, analyzer).
func finishAnalysis(o Options, ws *workspace) error {
	a := ws.analysis
	ws.runImg = &resolvedImage{Name: a.RunImageName, Reference: a.RunImageRef, Image: a.RunImage, mirrors: a.RunImageMirrors}
	if ref, ok := storeReference(o.Store, ws.runImg.Name, ws.runImg.Image); ok {
		ws.runImg.Reference = ref
	}
	if a.Previous != nil {
		o.Log.Debugf("previous image: %s", a.PreviousRef)
	}
	rcfg, err := ws.runImg.Image.ConfigFile()
	if err != nil {
		return fmt.Errorf("read config of run image %s: %w", ws.runImg.Name, err)
	}
	ws.runTarget = platform.TargetOf(rcfg)
	// docs/spec-notes.md, Target matching (reference lifecycle): a run image without distro
	// labels is taken to be the distro of the build container, read from its os-release.
	if ws.runTarget.Distro == nil {
		if name, version, ok := stack.OSRelease(ws.rootfs); ok {
			ws.runTarget.Distro = &platform.TargetDistro{Name: name, Version: version}
		}
	}
	analyzed := platform.Analyzed{RunImage: &platform.AnalyzedRun{Reference: ws.runImg.Reference, Image: ws.runImg.Name, Target: &ws.runTarget}}
	return tomlfile.Write(filepath.Join(ws.dirs.layers, "analyzed.toml"), analyzed)
}

// runPhases runs detect, restore, build, export and the cache export on a prepared workspace.
func runPhases(ctx context.Context, o Options, ws *workspace, res *Result) error {
	log, dirs := o.Log, ws.dirs
	bcfg, _ := ws.buildImg.Image.ConfigFile()
	phases, err := newPhaseRunner(o, dirs, ws.rootfs, ws.buildImg.Name, bcfg.Config.Env, ws.uid, ws.gid, log)
	if err != nil {
		return err
	}
	run := func(name string, args ...string) (time.Duration, error) { return phases.run(ctx, name, args...) }
	common := []string{"-app", platform.AppDir, "-layers", platform.LayersDir, "-platform", platform.PlatformDir,
		"-buildpacks", platform.BuildpacksDir, "-build-config", platform.BuildConfigDir,
		"-analyzed", platform.LayersDir + "/analyzed.toml",
		"-group", platform.LayersDir + "/group.toml", "-plan", platform.LayersDir + "/plan.toml"}
	if log.IsDebug() {
		common = append(common, "-log-level", "debug")
	}
	created := o.SourceDateEpoch
	if created.IsZero() {
		created = reproducibleEpoch
	}
	uid, gid := ws.uid, ws.gid
	// The cache layers the last build left in place are fingerprinted while detect runs;
	// the restorer keeps those still equal to the committed cache without walking them.
	kept := make(chan map[string]string, 1)
	go func() { kept <- lifecycle.FingerprintKeptLayers(ctx, dirs.layers, uid, gid, created) }()
	if err := res.sandboxPhase(log, "DETECTING", func() (time.Duration, error) {
		return run("detector", append(common, "-order", platform.CNBDir+"/order.toml")...)
	}); err != nil {
		return err
	}
	var group platform.GroupFile
	if err := tomlfile.ReadIn(dirs.layers, "group.toml", &group); err != nil {
		return err
	}
	var (
		c         cache.Cache
		cacheMeta *cache.Metadata
		restored  *lifecycle.RestoreReport
	)
	err = res.phase(log, "RESTORING", func() error {
		var err error
		if c, cacheMeta, err = openCache(ctx, o, dirs, log); err != nil {
			return platform.NewError(platform.CodeRestoreError, err)
		}
		in := lifecycle.RestoreInputs{LayersDir: dirs.layers, Group: group.Group, Cache: c, CacheMetadata: cacheMeta,
			Previous: ws.analysis.PreviousMetadata, UID: uid, GID: gid, Created: created, Warn: log.Warnf,
			Fingerprints: <-kept}
		if o.ClearCache {
			in.Cache, in.CacheMetadata = nil, nil
			log.Infof("--clear-cache: not restoring cached layers")
		}
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
	if c != nil {
		defer c.Close()
	}
	if err != nil {
		return err
	}
	if err := res.sandboxPhase(log, "BUILDING", func() (time.Duration, error) { return run("builder", common...) }); err != nil {
		return err
	}
	warnUntypedRestored(dirs.layers, restored.Layers, log)

	// The cache layers are fingerprinted and tarred while the image is exported (both only
	// read the layers); the cache is committed once the image is written.
	type cacheExport struct {
		rep  *lifecycle.CacheExportReport
		err  error
		took time.Duration
	}
	imageWritten := make(chan error, 1)
	cacheDone := make(chan cacheExport, 1)
	go func() {
		start := time.Now()
		crep, err := lifecycle.ExportCache(ctx, lifecycle.CacheExportInputs{
			LayersDir: dirs.layers, Group: group.Group, Cache: c, Previous: cacheMeta,
			Restored: restored.Layers, UID: uid, GID: gid, Created: created,
			Proceed: func() error { return <-imageWritten },
			// The per-app volume cache sits beside the layers dir it caches, under the same
			// lock: a cache-only layer that only grew a little keeps its tar (a Go build
			// cache is ~100 MB that a one-file change grows by a few objects).
			LagTars: o.CacheDir == "" && o.CacheImage == "" && !o.ClearCache,
		})
		cacheDone <- cacheExport{crep, err, time.Since(start)}
	}()
	var img v1.Image
	err = res.phase(log, "EXPORTING", func() error {
		var rep *lifecycle.ExportReport
		var err error
		img, rep, err = lifecycle.Export(ctx, lifecycle.ExportInputs{
			LayersDir:          dirs.layers,
			AppDir:             dirs.workspace,
			Group:              group.Group,
			RunImage:           ws.runImg.Image,
			RunImageRef:        ws.runImg.Reference,
			RunImageName:       ws.runImg.Name,
			RunImageMirrors:    ws.runImg.mirrors,
			LauncherPath:       o.LauncherPath,
			ProjectMetadata:    ws.proj.metadata(),
			DefaultProcessType: o.DefaultProcess,
			PreviousImage:      ws.analysis.Previous,
			Reuse:              readExportState(dirs),
			UID:                uid,
			GID:                gid,
			Created:            created,
			PlatformAPI:        api.DefaultPlatform.String(),
			LauncherVersion:    version.Version,
			ScratchDir:         dirs.scratch,
			SkipELFCheck:       lifecycle.ELFCheckDisabled(dirs.platform),
			ELFCacheDir:        filepath.Join(filepath.Dir(filepath.Dir(dirs.root)), "elf-libs"),
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
		if o.daemon != nil {
			// The next build reads the layers it reuses from here, not back from the daemon.
			base, err := ws.runImg.Image.Layers()
			if err == nil {
				err = launchCache(o).Save(img, len(base))
			}
			if err != nil {
				log.Warnf("update the launch cache: %v; the next build reads reused layers from the Docker daemon", err)
			}
		}
		if err := writeExportState(dirs, o.Image, rep); err != nil {
			log.Warnf("record layer fingerprints: %v; the next build re-creates every layer", err)
		}
		return nil
	})
	if err != nil {
		imageWritten <- errors.New("the image was not written")
		<-cacheDone
		return err
	}
	imageWritten <- nil
	// Errors while writing the cache are warnings: the image is already written (platform.md, Layer Restoration).
	// The phase's time is what the cache export added after the image export.
	_ = res.phase(log, "CACHING", func() error {
		done := <-cacheDone
		crep, err := done.rep, done.err
		log.Debugf("cache export took %s in all, overlapped with EXPORTING", round(done.took))
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
			return err
		}
	}
	res.Image = img
	return nil
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
	switch {
	case o.daemon != nil:
		d, err = img.ConfigName()
		if err == nil {
			_, err = o.daemon.Write(ctx, names, img)
		}
	case o.Publish:
		d, err = registry.Publish(ctx, names, img, o.Registry, progressTo(o.Log))
	default:
		d, err = o.Store.WriteMany(ctx, names, img)
	}
	if err != nil {
		return platform.NewError(platform.CodeExportError, fmt.Errorf("write image %s: %w", strings.Join(names, ", "), err))
	}
	res.Digest = d
	res.Names = append(res.Names, names...)
	return nil
}

// launchCache holds the layers of images loaded into a Docker daemon, by diffID, for every app.
func launchCache(o Options) *lifecycle.LaunchCache {
	return lifecycle.OpenLaunchCache(filepath.Join(o.WorkDir, "launch-cache"))
}

// daemonPrevious reads the previous image from the Docker daemon, its layers from the launch
// cache when there: the daemon hands out a layer only by exporting the whole image.
type daemonPrevious struct {
	d  *publish.Daemon
	lc *lifecycle.LaunchCache
}

func (s daemonPrevious) Image(ctx context.Context, ref string) (v1.Image, error) {
	img, err := s.d.Image(ctx, ref)
	if err != nil {
		return nil, err
	}
	return s.lc.Wrap(img), nil
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
	return tomlfile.Write(filepath.Join(o.ReportDir, "report.toml"), rep)
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
