#!/usr/bin/env bash
# Generic fixture bin/build (buildpack.md, Build). Tests install it as bin/build of each
# fixture buildpack. It records what it was given under $CNB_BUILDPACK_DIR/seen/, copies
# $CNB_BUILDPACK_DIR/out/ into its layers dir, then runs $CNB_BUILDPACK_DIR/extra.sh if any.
set -euo pipefail
bp_dir="$(cd "$(dirname "$0")/.." && pwd)"
layers="$1"
plan="$3"
mkdir -p "$bp_dir/seen"
env -0 > "$bp_dir/seen/env"
printf '%s\n' "$@" > "$bp_dir/seen/args"
pwd > "$bp_dir/seen/pwd"
cp "$plan" "$bp_dir/seen/plan.toml"
if [[ -d "$bp_dir/out" ]]; then
  cp -a "$bp_dir/out/." "$layers/"
fi
if [[ -f "$bp_dir/extra.sh" ]]; then
  source "$bp_dir/extra.sh"
fi
