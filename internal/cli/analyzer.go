package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipway/slipway/lifecycle"
	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/registry"
	"github.com/slipway/slipway/tomlfile"
)

// platformFlags are the Platform API inputs of the analyzer, restorer and creator that the
// detector, builder and exporter do not share (platform.md, Operations: Build; platform.md, analyzer; platform.md, restorer).
type platformFlags struct {
	run, runImage, previousImage string
	cacheDir, cacheImage         string
	tags                         stringList
	uid, gid                     int
	skipLayers                   bool
	daemon                       bool
	// restored is what the restorer untarred; the creator hands it to the cache export so
	// unchanged restored layers are not tarred again.
	restored []lifecycle.RestoredLayer
}

// stringList is a repeatable flag (-tag a -tag b).
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// registerPlatformFlags adds the flags of phase beyond the shared ones of runPhase.
func registerPlatformFlags(phase string, fs *flag.FlagSet, in *phaseInputs) {
	f := &in.more
	uid, gid := envInt("CNB_USER_ID", os.Getuid()), envInt("CNB_GROUP_ID", os.Getgid())
	cache := func() {
		fs.StringVar(&f.cacheDir, "cache-dir", os.Getenv("CNB_CACHE_DIR"), "volume cache directory")
		fs.StringVar(&f.cacheImage, "cache-image", os.Getenv("CNB_CACHE_IMAGE"), "cache image reference")
	}
	ids := func() {
		fs.IntVar(&f.uid, "uid", uid, "CNB user id (default CNB_USER_ID)")
		fs.IntVar(&f.gid, "gid", gid, "CNB group id (default CNB_GROUP_ID)")
	}
	analyze := func() {
		fs.StringVar(&f.run, "run", envOr("CNB_RUN_PATH", filepath.Join(platform.CNBDir, "run.toml")), "run.toml naming the run image and mirrors")
		fs.StringVar(&f.runImage, "run-image", os.Getenv("CNB_RUN_IMAGE"), "run image (overrides run.toml)")
		fs.StringVar(&f.previousImage, "previous-image", os.Getenv("CNB_PREVIOUS_IMAGE"), "previous image (default <image>)")
		fs.Var(&f.tags, "tag", "additional tag of the output image (repeatable)")
		fs.BoolVar(&f.daemon, "daemon", false, "use the docker daemon (not supported)")
	}
	insecure := func() {
		addPhaseInsecureRegistryFlag(fs, &in.export.insecure)
	}
	switch phase {
	case "analyzer":
		analyze()
		cache()
		ids()
		insecure()
		fs.BoolVar(&f.skipLayers, "skip-layers", os.Getenv("CNB_SKIP_LAYERS") == "true", "do not record the previous image's layer metadata")
		fs.String("launch-cache", "", "launch cache (only meaningful with -daemon; ignored)")
	case "restorer":
		cache()
		ids()
		insecure()
		fs.BoolVar(&f.skipLayers, "skip-layers", os.Getenv("CNB_SKIP_LAYERS") == "true", "do not restore cached layer contents")
		fs.String("build-image", "", "build image (only used with image extensions; ignored)")
	case "exporter":
		cache()
	case "creator":
		analyze()
		cache()
		ids()
		in.export.register(fs)
		fs.BoolVar(&f.skipLayers, "skip-restore", os.Getenv("CNB_SKIP_RESTORE") == "true", "do not restore layers from the previous image or the cache")
	}
}

func envInt(key string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(key)); err == nil {
		return n
	}
	return def
}

// registryOptions are the registry options of a phase: credentials from CNB_REGISTRY_AUTH
// and the docker config (platform.md, Registry Authentication), and -insecure-registry.
func (in *phaseInputs) registryOptions() (registry.Options, error) {
	kc, err := registry.Keychain(os.Environ())
	if err != nil {
		return registry.Options{}, err
	}
	ro := registry.Options{Keychain: kc}
	ro.Insecure = in.export.insecure.list
	return ro, nil
}

// registrySource finds images in registries; a missing one is lifecycle.ErrImageNotFound.
type registrySource struct{ opts registry.Options }

func (s registrySource) Image(ctx context.Context, ref string) (v1.Image, error) {
	img, err := registry.Image(ctx, ref, s.opts)
	var re *registry.Error
	if errors.As(err, &re) && re.Kind == registry.KindNotFound {
		return nil, fmt.Errorf("%w: %w", lifecycle.ErrImageNotFound, err)
	}
	return img, err
}

// runAnalyzer is the analyzer phase (platform.md, analyzer): it reads the previous image (a
// missing one is fine: the first build), chooses the run image from -run-image or run.toml
// (platform.md, Run Image Resolution) and writes analyzed.toml with the previous image's metadata and the run image's
// reference and target.
func runAnalyzer(ctx context.Context, in *phaseInputs) error {
	fail := func(err error) error { return platform.NewError(platform.CodeAnalyzeError, err) }
	f := &in.more
	if f.daemon {
		return platform.NewError(platform.CodeInvalidArgs, errors.New("-daemon is not supported: slipway writes to registries only"))
	}
	if len(in.images) != 1 {
		return platform.NewError(platform.CodeInvalidArgs, fmt.Errorf("want exactly one <image>, got %q", in.images))
	}
	out, err := name.ParseReference(in.images[0])
	if err != nil {
		return platform.NewError(platform.CodeInvalidArgs, fmt.Errorf("image %q: %w", in.images[0], err))
	}
	// platform.md, analyzer: tags go to the registry of <image> (no daemon here).
	for _, tag := range f.tags {
		r, err := name.ParseReference(tag)
		if err != nil {
			return platform.NewError(platform.CodeInvalidArgs, fmt.Errorf("-tag %q: %w", tag, err))
		}
		if r.Context().RegistryStr() != out.Context().RegistryStr() {
			return platform.NewError(platform.CodeInvalidArgs, fmt.Errorf("-tag %s is not on the registry of %s (%s)", tag, in.images[0], out.Context().RegistryStr()))
		}
	}
	var cands []lifecycle.RunImageCandidates
	var runFile platform.RunFile
	switch err := tomlfile.Read(f.run, &runFile); {
	case err == nil:
		for _, ri := range runFile.Images {
			cands = append(cands, lifecycle.RunImageCandidates{Image: ri.Image, Mirrors: ri.Mirrors})
		}
	case errors.Is(err, fs.ErrNotExist) && f.runImage != "":
	default:
		return fail(fmt.Errorf("read run.toml (-run, CNB_RUN_PATH; or pass -run-image): %w", err))
	}
	ro, err := in.registryOptions()
	if err != nil {
		return fail(err)
	}
	analysis, err := lifecycle.Analyze(ctx, lifecycle.AnalyzeInputs{
		OutputImage: in.images[0], PreviousImage: f.previousImage, RunImage: f.runImage, RunImages: cands,
		Images: registrySource{ro},
	})
	if err != nil {
		return fail(err)
	}
	rcfg, err := analysis.RunImage.ConfigFile()
	if err != nil {
		return fail(fmt.Errorf("read config of run image %s: %w", analysis.RunImageRef, err))
	}
	target := platform.TargetOf(rcfg)
	runName := analysis.RunImageName
	if runName == "" {
		runName = f.runImage
	}
	af := platform.Analyzed{RunImage: &platform.AnalyzedRun{Reference: analysis.RunImageRef, Image: runName, Target: &target}}
	if analysis.Previous != nil {
		ref := analysis.PreviousRef
		if d, err := analysis.Previous.Digest(); err == nil {
			if r, err := name.ParseReference(ref); err == nil {
				ref = r.Context().Name() + "@" + d.String()
			}
		}
		af.PreviousImage = &platform.ImageIdentifier{Reference: ref}
		if analysis.PreviousMetadata != nil && !f.skipLayers {
			if af.Metadata, err = lifecycle.MetadataTable(analysis.PreviousMetadata); err != nil {
				return fail(fmt.Errorf("convert metadata of previous image %s: %w", ref, err))
			}
		}
		fmt.Fprintf(in.stdout, "Previous image %s\n", ref)
	} else {
		fmt.Fprintf(in.stdout, "No previous image %s\n", firstNonEmpty(f.previousImage, in.images[0]))
	}
	fmt.Fprintf(in.stdout, "Run image %s\n", analysis.RunImageRef)
	if err := tomlfile.Write(in.analyzed, af); err != nil {
		return fail(err)
	}
	return chownForCNBUser(in.analyzed, f.uid, f.gid)
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// readAnalyzed reads analyzed.toml as the analyzer wrote it.
func (in *phaseInputs) readAnalyzed() (*platform.Analyzed, error) {
	var af platform.Analyzed
	if err := tomlfile.Read(in.analyzed, &af); err != nil {
		return nil, err
	}
	return &af, nil
}

// chownForCNBUser gives the files a root-run phase wrote to the CNB user, so the phases
// after it (which refuse root) can change them (platform.md, Build Image (reference lifecycle): the root-capable phases
// chown the layers and cache dirs). A no-op when not root.
func chownForCNBUser(root string, uid, gid int) error {
	if os.Getuid() != 0 || uid == 0 {
		return nil
	}
	return filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(p, uid, gid); err != nil {
			return fmt.Errorf("chown %s to the CNB user %d:%d: %w", p, uid, gid, err)
		}
		return nil
	})
}
