# Sourced by the bench/*.sh scripts that time `slipway build` against `podman build`.
# They set RUNS, T (their temp dir), SW (slipway), P (podman with its storage flags),
# SBUILD and PBUILD (the two build commands; PBUILD starts "$P build -q") and write
# $T/edit.sh DIR, the one-file edit, before calling bench_cases.

# bench_store: slipway's store, cache and config under $T (the caller's own, never the user's),
# the .deb cache DEBS shared, and the e2e tests' default stack hard-linked in when it exists.
bench_store() {
  export SLIPWAY_STORE=$T/store XDG_CACHE_HOME=$T/cache SLIPWAY_CONFIG=$T/config.toml
  mkdir -p "$T/cache/slipway" "$DEBS"
  ln -s "$DEBS" "$T/cache/slipway/debs"
  STACK=$(ls -d /var/tmp/slipway-test-cache/default-stack-*[0-9a-f] 2>/dev/null | head -1 || true)
  if [ -n "$STACK" ]; then cp -al "$STACK" "$T/store"; echo "== default stack from $STACK"; fi
}

# bench_median NAME COMMAND [hyperfine options...]: COMMAND run RUNS times by hyperfine
# (its log in $T/NAME.log, its JSON in $T/NAME.json); prints the median in seconds.
bench_median() {
  local name=$1 cmd=$2
  shift 2
  hyperfine -N --runs "$RUNS" --style basic --export-json "$T/$name.json" "$@" -n "$name" "$cmd" >"$T/$name.log" 2>&1 \
    || { cat "$T/$name.log"; exit 1; }
  jq -r '.results[0].median' "$T/$name.json"
}

# bench_cases IMAGE SAPP PAPP: the cold, warm and one-file cases of both sides, into the
# caller's associative array M (M[slipway-cold] … M[podman-onefile]). Cold: slipway
# without the image and the app's cache, podman with --no-cache after removing the image
# and pruning; base images stay on both sides.
bench_cases() {
  local img=$1 sapp=$2 papp=$3
  M[slipway-cold]=$(bench_median slipway-cold "$SBUILD" --prepare "sh -c '$SW rmi $img >/dev/null 2>&1; rm -rf $T/cache/slipway/apps'")
  M[podman-cold]=$(bench_median podman-cold "${PBUILD/ build -q / build -q --no-cache }" \
    --prepare "sh -c '$P rmi -f $img >/dev/null 2>&1; $P image prune -f >/dev/null 2>&1; true'")
  $SBUILD >/dev/null 2>&1
  $PBUILD >/dev/null 2>&1
  M[slipway-warm]=$(bench_median slipway-warm "$SBUILD" --warmup 1)
  M[podman-warm]=$(bench_median podman-warm "$PBUILD" --warmup 1)
  M[slipway-onefile]=$(bench_median slipway-onefile "$SBUILD" --warmup 1 --prepare "$T/edit.sh $sapp")
  M[podman-onefile]=$(bench_median podman-onefile "$PBUILD" --warmup 1 --prepare "$T/edit.sh $papp")
}

# bench_time_table: the three cases' medians of M and their slipway/podman ratio.
bench_time_table() {
  local c s p
  printf '%-10s %12s %12s %16s\n' case slipway podman slipway/podman
  for c in cold warm onefile; do
    s=${M[slipway-$c]} p=${M[podman-$c]}
    printf '%-10s %11.2fs %11.2fs %16.2f\n' "$c" "$s" "$p" "$(echo "$s $p" | awk '{print $1 / $2}')"
  done
}

# mb BYTES: megabytes with one decimal.
mb() { echo "$1" | awk '{printf "%.1f", $1 / 1e6}'; }
