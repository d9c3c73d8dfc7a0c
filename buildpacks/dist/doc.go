// Package dist compiles Slipway's own buildpacks and lays each out as a buildpack
// directory (buildpack.toml + bin/) that any CNB lifecycle or builder can use.
package dist
