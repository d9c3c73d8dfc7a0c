package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/slipway/slipway/tomlfile"
	"github.com/slipway/slipway/version"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/slipway/slipway/lifecycle"
	"github.com/slipway/slipway/logging"
	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/registry"
)

// exportFlags are the exporter's own Platform API inputs (platform.md, exporter).
type exportFlags struct {
	launcher, processType, projectMetadata, report string
	insecure                                       insecureList
}

func (f *exportFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.launcher, "launcher", envOr("CNB_LAUNCHER_PATH", platform.LauncherPath), "launcher binary to put in the image")
	fs.StringVar(&f.processType, "process-type", os.Getenv("CNB_PROCESS_TYPE"), "default process type of the image")
	fs.StringVar(&f.projectMetadata, "project-metadata", os.Getenv("CNB_PROJECT_METADATA_PATH"), "project-metadata.toml (default <layers>/project-metadata.toml)")
	fs.StringVar(&f.report, "report", os.Getenv("CNB_REPORT_PATH"), "report.toml to write (default <layers>/report.toml)")
	addPhaseInsecureRegistryFlag(fs, &f.insecure)
}

// runExporter is the exporter phase (platform.md, exporter): it exports the layers the builder
// left into an image on the run image that analyzed.toml names, and pushes it to every
// <image> given, moving no tag unless all uploads succeeded. Credentials come from
// CNB_REGISTRY_AUTH and the docker/podman config (platform.md, Registry Authentication).
func runExporter(ctx context.Context, in *phaseInputs) error {
	fail := func(err error) error { return platform.NewError(platform.CodeExportError, err) }
	var analyzed platform.Analyzed
	if err := tomlfile.Read(in.analyzed, &analyzed); err != nil {
		return fail(err)
	}
	if analyzed.RunImage == nil || analyzed.RunImage.Reference == "" {
		return fail(fmt.Errorf("%s names no run image ([run-image] reference); run the analyzer first", in.analyzed))
	}
	var group platform.GroupFile
	if err := tomlfile.Read(in.group, &group); err != nil {
		return fail(err)
	}
	ro, err := in.registryOptions()
	if err != nil {
		return fail(err)
	}
	runImg, err := registry.Image(ctx, analyzed.RunImage.Reference, ro)
	if err != nil {
		return fail(fmt.Errorf("run image: %w", err))
	}
	// buildpack.md, Launch Layers: launch layers a buildpack kept by writing only their .toml come
	// from the previous image the analyzer found.
	var previous v1.Image
	if analyzed.PreviousImage != nil && analyzed.PreviousImage.Reference != "" {
		if previous, err = registry.Image(ctx, analyzed.PreviousImage.Reference, ro); err != nil {
			return fail(fmt.Errorf("previous image: %w", err))
		}
	}
	var project platform.ProjectMetadata
	pm := in.export.projectMetadata
	if pm == "" {
		pm = filepath.Join(in.layers, "project-metadata.toml")
	}
	if _, err := os.Stat(pm); err == nil {
		if err := tomlfile.Read(pm, &project); err != nil {
			return fail(err)
		}
	}
	created, err := platform.SourceDateEpoch(os.Environ())
	if err != nil {
		return err
	}
	uid, gid, err := platform.CNBUser(os.Environ(), "the exporter's environment")
	if err != nil {
		return platform.NewError(platform.CodeInvalidArgs, err)
	}
	scratch, err := os.MkdirTemp("", "slipway-export-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(scratch)
	runName := analyzed.RunImage.Image
	if runName == "" {
		runName = analyzed.RunImage.Reference
	}
	img, _, err := lifecycle.Export(ctx, lifecycle.ExportInputs{
		LayersDir: in.layers, AppDir: in.app, Group: group.Group,
		RunImage: runImg, RunImageRef: analyzed.RunImage.Reference, RunImageName: runName,
		LauncherPath: in.export.launcher, LauncherVersion: version.Version,
		ProjectMetadata: project, DefaultProcessType: in.export.processType, PreviousImage: previous,
		UID: uid, GID: gid, Created: created, PlatformAPI: in.platformAPI.Version.String(),
		ScratchDir: scratch,
		// The exporter phase has no platform env of its own: the opt-out is its environment.
		SkipELFCheck: os.Getenv(lifecycle.ELFCheckOptOut) == "true",
	})
	if err != nil {
		return err
	}
	log := logging.New(in.stdout, logging.Info, false)
	dig, err := registry.Publish(ctx, in.images, img, ro, log.Infof)
	if err != nil {
		return fail(err)
	}
	report := in.export.report
	if report == "" {
		report = filepath.Join(in.layers, "report.toml")
	}
	rep := platform.Report{Image: platform.ImageReport{Tags: in.images, Digest: dig.String()}}
	if err := tomlfile.Write(report, rep); err != nil {
		return fail(err)
	}
	fmt.Fprintf(in.stdout, "*** Images (%s):\n", dig.Hex[:12])
	for _, n := range in.images {
		fmt.Fprintf(in.stdout, "      %s\n", n)
	}
	return nil
}
