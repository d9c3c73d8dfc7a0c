#!/usr/bin/env bash
# Java benchmark (issue 14): `slipway build` of a Maven app (one dependency, shaded into an
# executable jar that answers HTTP) with the default builder, against `podman build` of
# the two-stage Dockerfile a Java developer writes for it, in the same run, on the same
# machine:
#   cold      no build cache (slipway: app image and its cache removed; podman: --no-cache
#             after removing the app image); base images stay
#   warm      rebuild with no change
#   one-file  rebuild after appending a comment to src/main/java/hello/Greeting.java
# Each case runs RUNS times (default 3) under hyperfine; the script prints the medians, the
# slipway/podman ratio per case, both image sizes and the load average.
#
# Fairness:
# - Same JDK and Maven: Debian bookworm's openjdk-17 (JDK to build, JRE to run) and maven
#   on both sides, from deb.debian.org.
# - Same repository: bench/mavenrepo serves a Maven repository made from Debian's Java
#   packages on 127.0.0.1 (no Maven Central here); both sides read it through the same
#   settings.xml (slipway: a binding of type maven; podman: a bind mount from a build
#   context).
# - Same caching a developer gets: the Dockerfile resolves the plugins and dependencies
#   in a layer keyed by pom.xml alone (a package run before the sources are copied), so a
#   source edit rebuilds from there; slipway keeps ~/.m2, the JDK and Maven in cache layers.
# - Bases differ, as they do for users: slipway's run image (slipway/run:bookworm) vs a
#   Debian bookworm minbase root file system with apt (the e2e cache's debootstrap),
#   standing in for debian:bookworm-slim. Both base sizes are printed; compare what each
#   side adds.
# - podman uses overlay storage (what users have); PODMAN_STORAGE_DRIVER=vfs otherwise.
#
# Usage: bench/java.sh            (RUNS=5 bench/java.sh for more runs)
# Needs: root, bwrap, podman (runc), hyperfine, jq, go, curl, network to deb.debian.org,
# and the minbase root file system the e2e tests make
# (/var/tmp/slipway-test-cache/debian-bookworm-minbase).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
RUNS=${RUNS:-3}
DRIVER=${PODMAN_STORAGE_DRIVER:-overlay}
DEBS=${SLIPWAY_DEB_CACHE:-/var/tmp/slipway-test-cache/debs}
MINBASE=${MINBASE:-/var/tmp/slipway-test-cache/debian-bookworm-minbase}
for t in bwrap podman runc hyperfine jq go curl; do
  command -v "$t" >/dev/null || { echo "bench/java.sh needs $t" >&2; exit 2; }
done
[ -d "$MINBASE/usr" ] || { echo "no Debian minbase at $MINBASE (run the e2e tests once, or set MINBASE)" >&2; exit 2; }

make build >/dev/null
SW=$PWD/bin/slipway
T=$(mktemp -d /tmp/swjava.XXXXXX) # short: podman's runroot must stay under 50 characters
P="podman --root $T/pr --runroot $T/prr --storage-driver $DRIVER --cgroup-manager cgroupfs --events-backend none --runtime runc"
REPO_PID=
cleanup() {
  [ -n "$REPO_PID" ] && kill "$REPO_PID" 2>/dev/null || true
  $P rm -af >/dev/null 2>&1 || true
  $P rmi -af >/dev/null 2>&1 || true
  grep -o " $T/[^ ]*" /proc/mounts | sort -r | xargs -r umount -l 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT

bench_store

go build -o "$T/mavenrepo" ./bench/mavenrepo
"$T/mavenrepo" -app "$T/sapp" -settings "$T/settings" -cache "$DEBS" -url-file "$T/url" &
REPO_PID=$!
for _ in $(seq 1200); do [ -s "$T/url" ] && break; sleep 0.1; done
[ -s "$T/url" ] || { echo "mavenrepo did not start" >&2; exit 1; }
cp -a "$T/sapp" "$T/papp"
SBUILD="$SW build bench-java --path $T/sapp --network host --binding maven-settings=$T/settings -q"

echo "== untimed first slipway build (makes the default stack if needed, and the builder)"
$SBUILD >"$T/first.log" 2>&1 || { cat "$T/first.log"; exit 1; }

tar -C "$MINBASE" --exclude ./var/lib/apt/lists --exclude ./var/cache/apt --exclude ./proc --exclude ./sys --exclude ./dev -c . \
  | $P import -q - localhost/bench/debian:bookworm >/dev/null
printf 'target\nDockerfile\n.dockerignore\n' >"$T/papp/.dockerignore"
cat >"$T/papp/Dockerfile" <<'DOCKERFILE'
FROM localhost/bench/debian:bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jdk-headless maven \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pom.xml .
RUN --mount=type=bind,from=m2-settings,target=/tmp/m2 mvn --batch-mode -s /tmp/m2/settings.xml package -DskipTests
COPY src src
RUN --mount=type=bind,from=m2-settings,target=/tmp/m2 mvn --batch-mode -s /tmp/m2/settings.xml package -DskipTests

FROM localhost/bench/debian:bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/hello-1.0.jar /app/app.jar
CMD ["java", "-jar", "/app/app.jar"]
DOCKERFILE
PBUILD="$P build -q --network host --build-context m2-settings=$T/settings -t bench-java $T/papp"
$PBUILD >/dev/null 2>"$T/pfirst.log" || { cat "$T/pfirst.log"; exit 1; }

cat >"$T/edit.sh" <<'EOF2'
#!/bin/sh
echo "// edit $(date +%s%N)" >>"$1/src/main/java/hello/Greeting.java"
EOF2
chmod +x "$T/edit.sh"

declare -A M
echo "== timing ($RUNS runs per case)"
bench_cases bench-java $T/sapp $T/papp

# Both images answer HTTP; then sizes, the slipway image loaded into the same storage,
# where it takes over the name bench-java.
smoke() { # name
  local port=$((20000 + RANDOM % 20000)) body=""
  $P run -d --name "smoke-$1" --network host -e PORT=$port localhost/bench-java:latest >/dev/null
  for _ in $(seq 600); do body=$(curl -sf "http://127.0.0.1:$port/" 2>/dev/null) && break; sleep 0.1; done
  case "$body" in
  *"Greetings, java"*) echo "   $1 image answers: $body" ;;
  *) echo "$1 image does not answer; its output:" >&2; $P logs "smoke-$1" >&2 || true; $P rm -f "smoke-$1" >/dev/null; exit 1 ;;
  esac
  $P rm -f "smoke-$1" >/dev/null
}
PSIZE=$($P image inspect --format '{{.Size}}' localhost/bench-java:latest)
PBASE=$($P image inspect --format '{{.Size}}' localhost/bench/debian:bookworm)
smoke podman
"$SW" save bench-java -o "$T/sapp.tar" >/dev/null
$P load -q -i "$T/sapp.tar" >/dev/null
rm -f "$T/sapp.tar"
SSIZE=$($P image inspect --format '{{.Size}}' localhost/bench-java:latest)
smoke slipway
"$SW" save slipway/run:bookworm -o "$T/run.tar" >/dev/null
$P load -q -i "$T/run.tar" >/dev/null
SBASE=$($P image inspect --format '{{.Size}}' localhost/slipway/run:bookworm)

echo
echo "== results (medians of $RUNS runs; $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg); podman storage: $DRIVER; Debian openjdk-17 + maven 3.8, one dependency)"
bench_time_table
printf '%-10s %11sM %11sM %16.2f   (uncompressed, podman image inspect .Size)\n' size "$(mb "$SSIZE")" "$(mb "$PSIZE")" "$(echo "$SSIZE $PSIZE" | awk '{print $1 / $2}')"
printf '%-10s %11sM %11sM   (slipway/run:bookworm vs the Debian minbase)\n' base "$(mb "$SBASE")" "$(mb "$PBASE")"
printf '%-10s %11sM %11sM %16.2f\n' added "$(mb $((SSIZE - SBASE)))" "$(mb $((PSIZE - PBASE)))" "$(echo "$SSIZE $SBASE $PSIZE $PBASE" | awk '{print ($1 - $2) / ($3 - $4)}')"
