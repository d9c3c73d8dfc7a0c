#!/usr/bin/env bash
# Go benchmark (issue 13): the go-service app (e2e/testdata/apps/go-service: go.mod, one
# dependency, a static file) built by slipway's default builder with no build flags, against
#   - a bare `go build` on the host (same toolchain, warm caches): the floor a rebuild can reach;
#   - `podman build` of the two-stage Dockerfile a Go user writes (ko does not install here:
#     it is not in this machine's module list and GitHub is unreachable, so the Dockerfile stands
#     in for it, with the same binary on the same kind of minimal base).
# It reports
#   size      the image on the default run image (slipway/run:bookworm) and on a tiny
#             distroless-style run image (base-files, ca-certificates, tzdata, netbase) made
#             with `slipway stack build`; the Dockerfile image on the same two bases
#   onefile   warm rebuild after a one-line change of version.go: slipway, bare go build,
#             podman build (cache mounts for the module and build caches, as Go Dockerfiles use)
# Each timed case runs RUNS times (default 5) under hyperfine; medians are printed, with the
# ratios the issue asks for (slipway/go build, slipway/podman, size slipway/Dockerfile).
#
# Same toolchain everywhere: Go $GO_V (go-service's toolchain line), from the module proxy
# (slipway: golang.org/toolchain, checked against sum.golang.org; host: GOTOOLCHAIN=go$GO_V;
# Dockerfile: the same toolchain copied into the build stage). All module traffic goes through
# bench/goproxy, a caching proxy on 127.0.0.1 (plain HTTP: the build sandbox does not trust this
# machine's TLS-inspecting proxy), cached in BENCH_GOPROXY_CACHE (default: the e2e tests' cache).
#
# Usage: bench/go.sh            (RUNS=7 bench/go.sh for more runs)
# Needs: root, bwrap, podman (runc), hyperfine, jq, go. The .deb cache in SLIPWAY_DEB_CACHE
# (default /var/tmp/slipway-test-cache/debs) is shared; everything else lives in a temp dir
# removed on exit: it never touches your slipway store, cache, config or podman storage.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
export PATH=/usr/local/go/bin:$PATH
RUNS=${RUNS:-5}
DRIVER=${PODMAN_STORAGE_DRIVER:-overlay}
PROXY_CACHE=${BENCH_GOPROXY_CACHE:-/var/tmp/slipway-test-cache/goproxy}
DEBS=${SLIPWAY_DEB_CACHE:-/var/tmp/slipway-test-cache/debs}
GO_V=1.26.11
for t in bwrap podman runc hyperfine jq go; do
  command -v "$t" >/dev/null || { echo "bench/go.sh needs $t" >&2; exit 2; }
done

make build >/dev/null
SW=$PWD/bin/slipway
APP=$PWD/e2e/testdata/apps/go-service
T=$(mktemp -d /tmp/swgo.XXXXXX) # short: podman's runroot must stay under 50 characters
P="podman --root $T/pr --runroot $T/prr --storage-driver $DRIVER --cgroup-manager cgroupfs --events-backend none --runtime runc"
PROXY_PID=
cleanup() {
  [ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null || true
  $P rm -af >/dev/null 2>&1 || true
  $P rmi -af >/dev/null 2>&1 || true
  grep -o " $T/[^ ]*" /proc/mounts | sort -r | xargs -r umount -l 2>/dev/null || true
  chmod -R u+w "$T" 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT

export SLIPWAY_STORE=$T/store XDG_CACHE_HOME=$T/cache SLIPWAY_CONFIG=$T/config.toml
mkdir -p "$T/cache/slipway" "$DEBS"
ln -s "$DEBS" "$T/cache/slipway/debs"

go build -o "$T/goproxy" ./bench/goproxy
"$T/goproxy" -cache "$PROXY_CACHE" -url-file "$T/proxy" -lifetime 2h &
PROXY_PID=$!
for _ in $(seq 50); do [ -s "$T/proxy" ] && break; sleep 0.1; done
PROXY=$(cat "$T/proxy")

NET=()
"$SW" build --help 2>&1 | grep -q -- '--network' && NET=(--network host)
cp -a "$APP" "$T/sapp"
SFLAGS="--env GOPROXY=$PROXY --env GOSUMDB=sum.golang.org --env BP_GO_TOOLCHAIN_SOURCES=proxy --env BP_KEEP_FILES=static/* ${NET[*]} -q"
SBUILD="$SW build bench-go --path $T/sapp $SFLAGS"

echo "== untimed first builds (default stack and builder, tiny stack, toolchain, caches)"
"$SW" build bench-go --path "$T/sapp" ${SFLAGS% -q} >"$T/first.log" 2>&1 || { cat "$T/first.log"; exit 1; }
grep -q "Go $GO_V" "$T/first.log" || { cat "$T/first.log"; echo "expected Go $GO_V" >&2; exit 1; }
"$SW" stack default | sed \
  -e 's|^image = "slipway/run:bookworm"|image = "slipway/run-tiny:bookworm"|' \
  -e '/^\[run\]/,$ s|^  "base-files", .*|  "base-files", "ca-certificates", "tzdata", "netbase",|' \
  -e '/^\[run\]/,$ {/^  "ca-certificates", "tzdata", "bash"/d; /libatomic/d}' >"$T/tiny.toml"
"$SW" stack build --config "$T/tiny.toml" >"$T/tiny.log" 2>&1 || { cat "$T/tiny.log"; exit 1; }
"$SW" build bench-go-tiny --path "$T/sapp" $SFLAGS --run-image slipway/run-tiny:bookworm >"$T/tinyapp.log" 2>&1 \
  || { cat "$T/tinyapp.log"; exit 1; }

# Host: the same toolchain through the same proxy, warm caches of its own.
export GOTOOLCHAIN=go$GO_V GOPROXY=$PROXY GOSUMDB=sum.golang.org GOFLAGS=-modcacherw
export GOMODCACHE=$T/hostmod GOCACHE=$T/hostcache
cp -a "$APP" "$T/happ"
GOBUILD="sh -c 'cd $T/happ && CGO_ENABLED=0 go build -trimpath -buildvcs=false -o $T/happ.bin .'"
sh -c "cd $T/happ && CGO_ENABLED=0 go build -trimpath -buildvcs=false -o $T/happ.bin ." || exit 1
GOROOT_V=$(cd "$T/happ" && go env GOROOT)

# Podman: our build and run images (no Docker Hub here), the toolchain in the build stage.
for img in slipway/build:bookworm slipway/run:bookworm slipway/run-tiny:bookworm; do
  "$SW" save "$img" -o "$T/img.tar" >/dev/null
  $P load -q -i "$T/img.tar" >/dev/null
  rm -f "$T/img.tar"
done
cp -a "$APP" "$T/papp"
cat >"$T/papp/Dockerfile" <<'EOF'
# Stands in for FROM golang:1.26 AS build … FROM gcr.io/distroless/static (or ko's base).
ARG RUN=localhost/slipway/run:bookworm
FROM localhost/slipway/build:bookworm AS build
USER root
COPY --from=goroot . /usr/local/go
ENV PATH=/usr/local/go/bin:$PATH GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-modcacherw
ARG GOPROXY
ARG GOSUMDB
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/root/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/root/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -buildvcs=false -o /out/go-service .

FROM ${RUN}
COPY --from=build /out/go-service /app/go-service
COPY static /app/static
WORKDIR /app
ENV PORT=8080
ENTRYPOINT ["/app/go-service"]
EOF
printf 'Dockerfile\n' >"$T/papp/.dockerignore"
PBUILD="$P build -q --network host --build-context goroot=$GOROOT_V --build-arg GOPROXY=$PROXY --build-arg GOSUMDB=sum.golang.org"
$PBUILD -t bench-go-docker "$T/papp" >/dev/null 2>"$T/pfirst.log" || { cat "$T/pfirst.log"; exit 1; }
$PBUILD --build-arg RUN=localhost/slipway/run-tiny:bookworm -t bench-go-docker-tiny "$T/papp" >/dev/null 2>>"$T/pfirst.log" \
  || { cat "$T/pfirst.log"; exit 1; }

cat >"$T/edit.sh" <<'EOF'
#!/bin/sh
printf 'package main\n\nconst release = "%s"\n' "$(date +%s%N)" >"$1/version.go"
EOF
chmod +x "$T/edit.sh"

declare -A M
echo "== timing: one-file change, warm ($RUNS runs per case)"
M[slipway]=$(bench_median slipway "$SBUILD" --warmup 1 --prepare "$T/edit.sh $T/sapp")
M[gobuild]=$(bench_median gobuild "$GOBUILD" --warmup 1 --prepare "$T/edit.sh $T/happ")
M[podman]=$(bench_median podman "$PBUILD -t bench-go-docker $T/papp" --warmup 1 --prepare "$T/edit.sh $T/papp")

# Sizes: podman's uncompressed size of each image in the same storage.
size() { $P image inspect --format '{{.Size}}' "$1" | awk '{printf "%.1f", $1 / 1e6}'; }
for img in bench-go bench-go-tiny slipway/run:bookworm slipway/run-tiny:bookworm; do
  "$SW" save "$img" -o "$T/img.tar" >/dev/null
  $P load -q -i "$T/img.tar" >/dev/null
  rm -f "$T/img.tar"
done
BIN=$(stat -c %s "$T/happ.bin" | awk '{printf "%.1f", $1 / 1e6}')

echo
echo "== results (medians of $RUNS runs; $(nproc) cores; podman storage: $DRIVER; Go $GO_V)"
printf '%-28s %10s\n' "one-file rebuild" seconds
for c in slipway gobuild podman; do printf '%-28s %10.2f\n' "$c" "${M[$c]}"; done
printf '%-28s %10.2f   (goal ≤ 1.5)\n' "slipway / bare go build" "$(echo "${M[slipway]} ${M[gobuild]}" | awk '{print $1 / $2}')"
printf '%-28s %10.2f\n' "slipway / podman build" "$(echo "${M[slipway]} ${M[podman]}" | awk '{print $1 / $2}')"
echo
printf '%-28s %10s %10s\n' "image size (MB, uncompressed)" slipway Dockerfile
printf '%-28s %10s %10s\n' "default run image" "$(size localhost/bench-go:latest)" "$(size localhost/bench-go-docker:latest)"
printf '%-28s %10s %10s\n' "tiny run image" "$(size localhost/bench-go-tiny:latest)" "$(size localhost/bench-go-docker-tiny:latest)"
printf '%-28s %10s %10s\n' "base alone" "$(size localhost/slipway/run:bookworm)" "$(size localhost/slipway/run-tiny:bookworm)  (default, tiny)"
echo "the binary: $BIN MB (go build -trimpath, not stripped)"
