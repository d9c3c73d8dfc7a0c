package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/tomlfile"
)

// stackFile is the [run-image] of the legacy stack.toml, which names the run image for
// Platform APIs before 0.12 (platform.md, Files: stack.toml).
type stackFile struct {
	RunImage struct {
		Image   string   `toml:"image"`
		Mirrors []string `toml:"mirrors"`
	} `toml:"run-image"`
}

// runImageCandidates reads the run image and its mirrors from run.toml (-run), or, before
// Platform API 0.12, from stack.toml (-stack) when run.toml is missing. None is an error
// only when -run-image is not given either (platform.md, Run Image Resolution).
func runImageCandidates(in *platform.Inputs) ([]RunImageCandidates, error) {
	var runFile platform.RunFile
	err := tomlfile.Read(in.RunPath, &runFile)
	if err == nil {
		var cands []RunImageCandidates
		for _, ri := range runFile.Images {
			cands = append(cands, RunImageCandidates{Image: ri.Image, Mirrors: ri.Mirrors})
		}
		return cands, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read run.toml (-run, CNB_RUN_PATH): %w", err)
	}
	if !in.Platform.RunToml {
		var sf stackFile
		if serr := tomlfile.Read(in.StackPath, &sf); serr == nil && sf.RunImage.Image != "" {
			return []RunImageCandidates{{Image: sf.RunImage.Image, Mirrors: sf.RunImage.Mirrors}}, nil
		}
	}
	if in.RunImage != "" {
		return nil, nil
	}
	return nil, fmt.Errorf("read run.toml (-run, CNB_RUN_PATH; or pass -run-image): %w", err)
}

// Analyzer is the analyzer phase (platform.md, analyzer): it reads the previous image (a
// missing one is fine: the first build), chooses the run image from -run-image or run.toml
// (platform.md, Run Image Resolution) and writes analyzed.toml with the previous image's
// metadata and the run image's reference and target.
func Analyzer(ctx context.Context, in *platform.Inputs, o IO) (*Analysis, error) {
	fail := func(err error) error { return platform.NewError(platform.CodeAnalyzeError, err) }
	cands, err := runImageCandidates(in)
	if err != nil {
		return nil, fail(err)
	}
	analysis, err := Analyze(ctx, AnalyzeInputs{
		OutputImage: in.OutputImage, PreviousImage: in.PreviousImage, RunImage: in.RunImage, RunImages: cands,
		Images: o.Images,
	})
	if err != nil {
		return nil, fail(err)
	}
	af, err := analyzedFile(in, o, analysis)
	if err != nil {
		return nil, fail(err)
	}
	if analysis.Previous != nil {
		fmt.Fprintf(o.Stdout, "Previous image %s\n", af.PreviousImage.Reference)
	} else {
		fmt.Fprintf(o.Stdout, "No previous image %s\n", firstNonEmpty(in.PreviousImage, in.OutputImage))
	}
	fmt.Fprintf(o.Stdout, "Run image %s\n", af.RunImage.Reference)
	if err := tomlfile.Write(in.AnalyzedPath, af); err != nil {
		return nil, fail(err)
	}
	return analysis, chownForCNBUser(in.AnalyzedPath, in.UID, in.GID)
}

// analyzedFile is analyzed.toml for an analysis (platform.md, Files: analyzed.toml).
func analyzedFile(in *platform.Inputs, o IO, a *Analysis) (*platform.Analyzed, error) {
	rcfg, err := a.RunImage.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read config of run image %s: %w", a.RunImageRef, err)
	}
	target := platform.TargetOf(rcfg)
	runRef, err := identify(o.Images, firstNonEmpty(a.RunImageSource, a.RunImageName, in.RunImage), a.RunImage)
	if err != nil {
		return nil, err
	}
	a.RunImageRef = runRef
	af := &platform.Analyzed{RunImage: &platform.AnalyzedRun{Reference: runRef, Image: firstNonEmpty(a.RunImageName, in.RunImage), Target: &target}}
	if a.Previous != nil {
		ref, err := identify(o.Images, a.PreviousRef, a.Previous)
		if err != nil {
			return nil, err
		}
		af.PreviousImage = &platform.ImageIdentifier{Reference: ref}
		if a.PreviousMetadata != nil && !in.SkipLayers {
			if af.Metadata, err = MetadataTable(a.PreviousMetadata); err != nil {
				return nil, fmt.Errorf("convert metadata of previous image %s: %w", ref, err)
			}
		}
	}
	return af, nil
}
