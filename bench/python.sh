#!/usr/bin/env bash
# Python benchmark (issue 12): `slipway build` of a Flask app served by gunicorn
# (requirements.txt) with the default builder, against `podman build` of the Dockerfile a
# Python developer writes for it, in the same run, on the same machine:
#   cold      no build cache (slipway: app image and its cache removed; podman: --no-cache
#             after removing the app image); base images stay, as a pulled python image or
#             a made builder would
#   warm      rebuild with no change
#   one-file  rebuild after appending a comment to app.py
# Each case runs RUNS (default 5, at least 5) times under hyperfine; the script prints the
# medians, the slipway/podman ratio per case and both image sizes.
#
# Fairness:
# - Same Python: Debian bookworm's CPython 3.11 (the buildpack's default source) on both
#   sides; the Dockerfile's base stage stands in for FROM python:3.11-slim with that CPython
#   copied under /usr/local on the same base, slipway/run:bookworm, with the libraries its
#   extension modules link (ctypes, sqlite3, curses, readline, dbm: python:3.11-slim has
#   them) and pip installed. SIZE_ONLY checks that those modules import in both images.
# - Same packages, same index: bench/pyindex serves wheels rebuilt from Debian's
#   python3-* packages on 127.0.0.1 (no PyPI here); both sides read it through PIP_INDEX_URL.
# - Same work: a virtual environment / site-packages with the pinned requirements, the app
#   copied, gunicorn as the command.
# - podman uses overlay storage (what users have); PODMAN_STORAGE_DRIVER=vfs otherwise.
#
# Usage: bench/python.sh            (RUNS=7 bench/python.sh for more runs)
#        SIZE_ONLY=1 bench/python.sh  (no timing: each side built once, then both sizes
#                                      and, per layer, the paths of at least 1 MB, read
#                                      back by bench/imagesize; MIN_BYTES changes the 1 MB)
# Needs: root, bwrap, podman (runc), hyperfine (not for SIZE_ONLY), jq, go. The .deb cache in SLIPWAY_DEB_CACHE
# (default /var/tmp/slipway-test-cache/debs) is shared; an e2e-built default stack under
# /var/tmp/slipway-test-cache/default-stack-* is reused when present. Everything else lives
# in a temp dir removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
RUNS=${RUNS:-5}
[ "$RUNS" -ge 5 ] || { echo "RUNS must be at least 5" >&2; exit 2; }
DRIVER=${PODMAN_STORAGE_DRIVER:-overlay}
DEBS=${SLIPWAY_DEB_CACHE:-/var/tmp/slipway-test-cache/debs}
SIZE_ONLY=${SIZE_ONLY:-}
TOOLS="bwrap podman runc jq go"
[ -n "$SIZE_ONLY" ] || TOOLS="$TOOLS hyperfine"
for t in $TOOLS; do
  command -v "$t" >/dev/null || { echo "bench/python.sh needs $t" >&2; exit 2; }
done

make build >/dev/null
SW=$PWD/bin/slipway
T=$(mktemp -d /tmp/swpy.XXXXXX) # short: podman's runroot must stay under 50 characters
P="podman --root $T/pr --runroot $T/prr --storage-driver $DRIVER --cgroup-manager cgroupfs --events-backend none --runtime runc"
IDX_PID=
cleanup() {
  [ -n "$IDX_PID" ] && kill "$IDX_PID" 2>/dev/null || true
  $P rm -af >/dev/null 2>&1 || true
  $P rmi -af >/dev/null 2>&1 || true
  grep -o " $T/[^ ]*" /proc/mounts | sort -r | xargs -r umount -l 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT

bench_store

go build -o "$T/pyindex" ./bench/pyindex
go build -o "$T/imagesize" ./bench/imagesize
mkdir -p "$T/sapp"
"$T/pyindex" -cache "$DEBS" -url-file "$T/index" -requirements "$T/sapp/requirements.txt" -python-dir "$T/python" &
IDX_PID=$!
for _ in $(seq 600); do [ -s "$T/index" ] && break; sleep 0.1; done
[ -s "$T/index" ] || { echo "pyindex did not start" >&2; exit 1; }
IDX=$(cat "$T/index")
cat >"$T/sapp/app.py" <<'PY'
from flask import Flask

app = Flask(__name__)


@app.route("/")
def index():
    return "hello from flask"
PY
cp -a "$T/sapp" "$T/papp"
SBUILD="$SW build bench-py --path $T/sapp --network host --env PIP_INDEX_URL=$IDX -q"

echo "== untimed first slipway build (makes the default stack if needed, and the builder)"
$SBUILD >"$T/first.log" 2>&1 || { cat "$T/first.log"; exit 1; }

"$SW" save slipway/run:bookworm -o "$T/run.tar" >/dev/null
$P load -q -i "$T/run.tar" >/dev/null
rm -f "$T/run.tar"
printf '__pycache__\nDockerfile\n.dockerignore\n' >"$T/papp/.dockerignore"
cat >"$T/papp/Dockerfile" <<'DOCKERFILE'
# Stands in for FROM python:3.11-slim: the run image plus the same CPython and pip.
FROM localhost/slipway/run:bookworm AS base
USER root
COPY --from=python . /usr/local/
# Debian's CPython installs packages under PREFIX/local (its posix_local scheme), so
# their scripts (pip, gunicorn) land in /usr/local/local/bin.
ENV LD_LIBRARY_PATH=/usr/local/lib PATH=/usr/local/local/bin:/usr/local/bin:/usr/bin:/bin PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
RUN set -- /usr/local/share/pip-*.whl && python3 "$1/pip" install --no-index --quiet "$1"

FROM base
ARG PIP_INDEX_URL
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
ENV PORT=8080
CMD ["gunicorn", "app:app"]
DOCKERFILE
PBUILD="$P build -q --network host --build-context python=$T/python --build-arg PIP_INDEX_URL=$IDX -t bench-py $T/papp"
$PBUILD >/dev/null 2>"$T/pfirst.log" || { cat "$T/pfirst.log"; exit 1; }

# STDLIB imports the standard library modules that need libraries beyond the run image's
# basics; SIZE_ONLY runs it in both images, so neither is smaller by missing one.
STDLIB='import ssl, sqlite3, ctypes, zlib, bz2, lzma, hashlib, uuid, decimal, json, readline, curses, dbm.ndbm, crypt, zoneinfo, xml.etree.ElementTree as ET
ssl.create_default_context()
print("stdlib ok: sqlite", sqlite3.connect(":memory:").execute("select sqlite_version()").fetchone()[0], "ctypes", ctypes.CDLL(None).abs(-3), "expat", ET.fromstring("<a>x</a>").text)'

# sizes sets PSIZE and SSIZE (podman image inspect .Size, uncompressed) and leaves the
# slipway image as localhost/bench-py in podman's storage; with SIZE_ONLY it also prints
# where each image's bytes are, layer by layer, and runs STDLIB in both.
sizes() {
  PSIZE=$($P image inspect --format '{{.Size}}' localhost/bench-py:latest)
  if [ -n "$SIZE_ONLY" ]; then
    $P save -q -o "$T/papp.tar" localhost/bench-py:latest
    echo "== Dockerfile image: layers and paths of at least ${MIN_BYTES:-1000000} bytes"
    "$T/imagesize" -archive "$T/papp.tar" -min "${MIN_BYTES:-1000000}"
    rm -f "$T/papp.tar"
    echo "== Dockerfile image: $($P run --rm --network none localhost/bench-py python3 -c "$STDLIB" 2>&1 | tail -1)"
  fi
  "$SW" save bench-py -o "$T/sapp.tar" >/dev/null
  if [ -n "$SIZE_ONLY" ]; then
    echo "== slipway image: layers and paths of at least ${MIN_BYTES:-1000000} bytes"
    "$T/imagesize" -archive "$T/sapp.tar" -min "${MIN_BYTES:-1000000}"
  fi
  $P load -q -i "$T/sapp.tar" >/dev/null
  rm -f "$T/sapp.tar"
  SSIZE=$($P image inspect --format '{{.Size}}' localhost/bench-py:latest)
  if [ -n "$SIZE_ONLY" ]; then
    echo "== slipway image: $($P run --rm --network none --entrypoint /cnb/lifecycle/launcher localhost/bench-py -- python -c "$STDLIB" 2>&1 | tail -1)"
  fi
}
size_row() {
  printf '%-10s %11.1fM %11.1fM %16.2f   (uncompressed, podman image inspect .Size)\n' \
    size "$(echo "$SSIZE" | awk '{print $1 / 1e6}')" "$(echo "$PSIZE" | awk '{print $1 / 1e6}')" \
    "$(echo "$SSIZE $PSIZE" | awk '{print $1 / $2}')"
}
if [ -n "$SIZE_ONLY" ]; then
  sizes
  echo
  echo "== sizes (Debian CPython 3.11, Flask + gunicorn)"
  printf '%-10s %12s %12s %16s\n' "" slipway podman slipway/podman
  size_row
  exit 0
fi

cat >"$T/edit.sh" <<'EOF2'
#!/bin/sh
echo "# edit $(date +%s%N)" >>"$1/app.py"
EOF2
chmod +x "$T/edit.sh"

declare -A M
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== timing ($RUNS runs per case; load average $LOAD_BEFORE)"
bench_cases bench-py $T/sapp $T/papp
sizes

echo
echo "== results (medians of $RUNS runs; $(nproc) cores; podman storage: $DRIVER; Debian CPython 3.11, Flask + gunicorn)"
echo "   load average (1/5/15 min) before timing: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)"
bench_time_table
size_row
