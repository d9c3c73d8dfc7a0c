#!/usr/bin/env bash
# Rebuild and rebase benchmarks (issue "Rebuilds in milliseconds"), on this machine, publishing
# to a docker-registry on 127.0.0.1:
#   cold build · warm no-change rebuild · one-file change  (trivial app: one bash buildpack)
#   warm with a 20 MiB cached dependency layer · dependency change (20 MiB layer rebuilt)
#   rebase (registry: only config + manifest move) · export of a 1 GiB layer (MB/s, peak RSS)
# Each timed case: hyperfine, RUNS (default 7, at least 5) runs, median in ms. One extra run
# per build case prints per-phase timings (-v --timestamps), the split of DETECTING and BUILDING
# into buildpack processes and slipway, slipway's own time for the whole build (wall time minus
# time in buildpack processes) and peak RSS (/usr/bin/time).
# Needs root, bwrap, hyperfine, jq, docker-registry and the e2e image cache
# (`go test ./internal/testimages/` once). Leaves nothing behind.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-7}
[ "$RUNS" -ge 5 ] || { echo "RUNS must be at least 5"; exit 2; }
for tool in hyperfine jq docker-registry /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (apt-get install hyperfine jq docker-registry time)"; exit 1; }
done
make build >/dev/null
S=$PWD/bin/slipway
B=$(mktemp -d /tmp/slipway-bench.XXXXXX)
REG_PID=
cleanup() { [ -n "$REG_PID" ] && kill "$REG_PID" 2>/dev/null; rm -rf "$B"; }
trap cleanup EXIT

# A registry on a free 127.0.0.1 port.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
REG=127.0.0.1:$PORT
printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n' "$B/registry" "$REG" > "$B/registry.yml"
docker-registry serve "$B/registry.yml" >"$B/registry.log" 2>&1 & REG_PID=$!
for _ in $(seq 100); do curl -fs "http://$REG/v2/" >/dev/null && break; sleep 0.1; done

go run ./bench/setup "$B/store" "$B/builder.toml" "$PWD/bench/buildpacks"
export SLIPWAY_STORE=$B/store XDG_CACHE_HOME=$B/work SLIPWAY_CONFIG=$B/config.toml
mkdir -p "$B/trivial" "$B/deps" "$B/big"
echo hello > "$B/trivial/index.txt"
echo hello > "$B/deps/index.txt"; echo v1 > "$B/deps/deps.lock"
echo hello > "$B/big/index.txt"; echo v1 > "$B/big/deps.lock"
PUB=(--builder "$B/builder.toml" --publish --insecure-registry "$REG" -q)
build() { local app=$1; shift; echo "$S build $REG/bench/$app --path $B/$app ${PUB[*]} $*"; }

results=()
measure() { # name, hyperfine args…
  local name=$1; shift
  hyperfine --runs "$RUNS" --style basic --export-json "$B/$name.json" "$@" >/dev/null
  results+=("$(jq -r --arg n "$name" '.results[0] | "\($n)\t\(.median*1000|round) ms\t(min \(.min*1000|round), max \(.max*1000|round), n=\(.times|length))"' "$B/$name.json")")
}
phases() { # label, app, extra build args…
  local label=$1 app=$2; shift 2
  echo "--- $label"
  /usr/bin/time -f "    peak RSS %M KiB, wall %e s" "$S" build "$REG/bench/$app" --path "$B/$app" --builder "$B/builder.toml" \
    --publish --insecure-registry "$REG" -v --timestamps "$@" 2>&1 | grep -E "done in|in buildpack processes|own time|peak RSS" | sed 's/^[0-9:.]* //' || true
}

measure cold --prepare "rm -rf $B/work/slipway/apps" "$(build trivial)"
$(build trivial)
measure warm-no-change "$(build trivial)"
measure one-file-change --prepare "date +%s%N > $B/trivial/index.txt" "$(build trivial)"
$(build deps)
measure warm-20MiB-cached "$(build deps)"
measure deps-changed-20MiB --prepare "date +%s%N > $B/deps/deps.lock" "$(build deps)"
phases "warm no-change (trivial app)" trivial
date +%s%N > "$B/trivial/index.txt"; phases "one-file change (trivial app)" trivial
phases "warm, 20 MiB cached layer reused" deps

# Rebase in the registry: the app alternates between two run images of one repository
# (no --force needed: a newer digest of the same name, platform.md, rebaser).
"$S" save slipway-bench/run:bookworm -o "$B/run.tar" >/dev/null
crane() { go run github.com/google/go-containerregistry/cmd/crane@v0.22.1 "$@"; }
crane push --insecure "$B/run.tar" "$REG/bench/run:v1" >/dev/null 2>&1
mkdir -p "$B/patch/etc" && echo patched > "$B/patch/etc/patched" && tar -C "$B/patch" -cf "$B/patch.tar" etc
crane append --insecure -b "$REG/bench/run:v1" -f "$B/patch.tar" -t "$REG/bench/run:v2" >/dev/null 2>&1
"$S" build "$REG/bench/rebased" --path "$B/trivial" --builder "$B/builder.toml" --run-image "$REG/bench/run:v1" --publish --insecure-registry "$REG" -q
RB=("$S" rebase "$REG/bench/rebased" --publish --insecure-registry "$REG" -q)
measure rebase --prepare "${RB[*]} --run-image $REG/bench/run:v1" "${RB[*]} --run-image $REG/bench/run:v2"

# Export of a 1 GiB layer: random bytes (incompressible, the honest case), layer rebuilt.
echo "--- export of a 1 GiB layer (DEPS_MB=1024)"
out=$(/usr/bin/time -f "peak RSS %M KiB" "$S" build "$REG/bench/big" --path "$B/big" --builder "$B/builder.toml" \
  --publish --insecure-registry "$REG" -v --timestamps --env DEPS_MB=1024 2>&1)
echo "$out" | grep -E "EXPORTING done in|peak RSS" | sed 's/^[0-9:.]* /    /'
secs=$(echo "$out" | sed -n 's/.*EXPORTING done in \([0-9.]*\)\(m\?s\).*/\1 \2/p' | awk '{ print ($2=="ms") ? $1/1000 : $1 }')
[ -n "$secs" ] && awk -v s="$secs" 'BEGIN { printf "    export throughput: %.0f MB/s (1024 MiB incl. gzip + push to the registry)\n", 1073.741824/s }'

echo
echo "=== medians ($RUNS runs each, $(nproc) cores)"
printf '%s\n' "${results[@]}" | column -t -s $'\t'
