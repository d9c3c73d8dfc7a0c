#!/usr/bin/env bash
# Rebuild benchmarks (DESIGN.md "performance principles"): cold, warm no-change, one-file
# change, and warm with a 20 MiB cached dependency layer. hyperfine runs each case ≥5 times
# and prints the median; one extra run per case prints per-phase timings (-v --timestamps)
# and peak RSS (/usr/bin/time -v). Needs root, bwrap, hyperfine and the e2e image cache
# (run `go test ./internal/testimages/` once).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-7}
make build >/dev/null
S=$PWD/bin/slipway
B=$(mktemp -d /tmp/slipway-bench.XXXXXX)
trap 'rm -rf "$B"' EXIT
go run ./bench/setup "$B/store" "$B/builder.toml" "$PWD/bench/buildpacks"
export SLIPWAY_STORE=$B/store XDG_CACHE_HOME=$B/work
mkdir -p "$B/app" && echo hello > "$B/app/index.txt" && echo v1 > "$B/app/deps.lock"
build() { "$S" build bench --path "$B/app" --builder "$B/builder.toml" "$@"; }

phases() {
  echo "--- $1: phases and peak RSS"
  /usr/bin/time -f "peak RSS %M KiB, wall %e s" "$S" build bench --path "$B/app" --builder "$B/builder.toml" -v --timestamps 2>&1 \
    | grep -E "done in|peak RSS|: (reused|rebuilt)" || true
}

hyperfine --runs "$RUNS" --export-markdown "$B/cold.md" \
  --prepare "rm -rf $B/work/slipway/apps" "$S build bench --path $B/app --builder $B/builder.toml -q" | tee /dev/null
build -q
hyperfine --runs "$RUNS" --warmup 1 --export-markdown "$B/warm.md" "$S build bench --path $B/app --builder $B/builder.toml -q"
hyperfine --runs "$RUNS" --warmup 1 --export-markdown "$B/onefile.md" \
  --prepare "date +%s%N > $B/app/index.txt" "$S build bench --path $B/app --builder $B/builder.toml -q"
phases "warm no-change (20 MiB cached layer reused)"
date +%s%N > "$B/app/index.txt"; phases "one-file change"
echo v2 > "$B/app/deps.lock"; phases "dependency change (20 MiB layer rebuilt)"
hyperfine --runs "$RUNS" --export-markdown "$B/deps.md" \
  --prepare "date +%s%N > $B/app/deps.lock" "$S build bench --path $B/app --builder $B/builder.toml -q"
cat "$B"/*.md
