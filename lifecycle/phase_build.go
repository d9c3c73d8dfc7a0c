package lifecycle

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/slipway/slipway/platform"
	"github.com/slipway/slipway/tomlfile"
)

// Detector is the detector phase (platform.md, detector): it runs the buildpacks' bin/detect
// over the order (with system.toml's buildpacks around every group from Platform API 0.15)
// and writes group.toml and plan.toml.
func Detector(ctx context.Context, in *platform.Inputs, o IO) (*DetectResult, error) {
	var of platform.OrderFile
	if err := tomlfile.Read(in.OrderPath, &of); err != nil {
		return nil, platform.NewError(platform.CodeDetectError, err)
	}
	target, err := analyzedTarget(in.AnalyzedPath)
	if err != nil {
		return nil, platform.NewError(platform.CodeDetectError, err)
	}
	// platform.md, system.toml (TOML): Platform API 0.15 adds system.toml's buildpacks around each group.
	if _, err := os.Stat(in.SystemPath); err == nil && in.Platform.ExecEnv {
		var sys platform.SystemFile
		if err := tomlfile.Read(in.SystemPath, &sys); err != nil {
			return nil, platform.NewError(platform.CodeDetectError, err)
		}
		of.Order = sys.System.WithSystem(of.Order)
	}
	res, err := Detect(ctx, DetectInputs{
		ProcessTime: o.ProcessTime,
		AppDir:      in.AppDir, PlatformDir: in.PlatformDir, BuildpacksDir: in.BuildpacksDir, BuildConfigDir: in.BuildConfigDir,
		Order: of.Order, Target: target, ExecEnv: in.ExecEnv, Platform: in.Platform,
		Environ: o.Environ, Log: debugLog(in, o),
	})
	if err != nil {
		return nil, err
	}
	for _, e := range res.Group.Group {
		fmt.Fprintf(o.Stdout, "%s %s\n", e.ID, e.Version)
	}
	return res, WriteDetectResult(in.GroupPath, in.PlanPath, res)
}

// Builder is the builder phase (platform.md, builder): it runs bin/build of every buildpack
// of group.toml with its part of plan.toml, and writes <layers>/config/metadata.toml.
func Builder(ctx context.Context, in *platform.Inputs, o IO) error {
	group, err := readGroup(in.GroupPath)
	if err != nil {
		return platform.NewError(platform.CodeBuildError, err)
	}
	var plan platform.PlanFile
	if err := tomlfile.Read(in.PlanPath, &plan); err != nil {
		return platform.NewError(platform.CodeBuildError, err)
	}
	target, err := analyzedTarget(in.AnalyzedPath)
	if err != nil {
		return platform.NewError(platform.CodeBuildError, err)
	}
	_, err = Build(ctx, BuildInputs{
		ProcessTime: o.ProcessTime,
		AppDir:      in.AppDir, LayersDir: in.LayersDir, PlatformDir: in.PlatformDir, BuildpacksDir: in.BuildpacksDir,
		BuildConfigDir: in.BuildConfigDir, Group: group.Group, Plan: plan, Target: target, ExecEnv: in.ExecEnv,
		Platform: in.Platform, Environ: o.Environ, Out: o.Stdout,
	})
	return err
}

// debugLog is where detection details go: stdout at -log-level debug, else nowhere.
func debugLog(in *platform.Inputs, o IO) io.Writer {
	if in.LogLevel == "debug" {
		return o.Stdout
	}
	return io.Discard
}
