#!/usr/bin/env bash
# Static-site benchmark (issue 15): `slipway build` of a folder of HTML with the default
# builder (slipway/web-server: nginx from Debian's packages) against `podman build` of the
# nginx Dockerfile that does the same on the same images, in the same run, on this machine:
#   cold      no build cache (slipway: app image and its cache removed; podman: --no-cache
#             after removing the app image); base images stay
#   warm      rebuild with no change
#   one-file  rebuild after editing public/index.html
# Each case runs RUNS times (default 1, the issue's "one run") under hyperfine; the script prints the medians, the
# slipway/podman ratio per case and both image sizes, after checking that both images serve
# the site.
#
# Fairness:
# - Same base and same nginx: the Dockerfile installs Debian bookworm's nginx with apt-get in
#   a stage on slipway/build:bookworm (the build image, which has apt) and copies nginx, its
#   configuration and the two libraries the run image lacks onto slipway/run:bookworm, the
#   image slipway's builds run on; both sides fetch the packages from deb.debian.org.
# - Same site, same serving: gzip, access log to stdout, unprivileged, port 8080.
# - podman uses overlay storage (what users have); PODMAN_STORAGE_DRIVER=vfs otherwise.
#
# Usage: bench/webserver.sh            (RUNS=3 bench/webserver.sh for medians of more runs)
# Needs: root, bwrap, podman (runc), hyperfine, jq, go, curl, network to deb.debian.org. The
# .deb cache in SLIPWAY_DEB_CACHE is shared; everything else lives in a temp dir removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
RUNS=${RUNS:-1}
DRIVER=${PODMAN_STORAGE_DRIVER:-overlay}
DEBS=${SLIPWAY_DEB_CACHE:-/var/tmp/slipway-test-cache/debs}
for t in bwrap podman runc hyperfine jq go curl; do
  command -v "$t" >/dev/null || { echo "bench/webserver.sh needs $t" >&2; exit 2; }
done

make build >/dev/null
SW=$PWD/bin/slipway
T=$(mktemp -d /tmp/swweb.XXXXXX) # short: podman's runroot must stay under 50 characters
P="podman --root $T/pr --runroot $T/prr --storage-driver $DRIVER --cgroup-manager cgroupfs --events-backend none --runtime runc"
cleanup() {
  $P rm -af >/dev/null 2>&1 || true
  $P rmi -af >/dev/null 2>&1 || true
  grep -o " $T/[^ ]*" /proc/mounts | sort -r | xargs -r umount -l 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT

bench_store

# The site: an index, 30 pages, a stylesheet and a script.
S=$T/sapp
mkdir -p "$S/public/pages" "$S/public/assets"
echo '<!doctype html><title>bench</title><link rel=stylesheet href=/assets/site.css><h1>bench site</h1>' >"$S/public/index.html"
for i in $(seq 30); do
  printf '<!doctype html><title>page %d</title><p>%s</p>\n' "$i" "$(head -c 3000 /dev/zero | tr '\0' 'x')" >"$S/public/pages/$i.html"
done
for i in $(seq 200); do echo ".c$i { margin: ${i}px; }"; done >"$S/public/assets/site.css"
for i in $(seq 200); do echo "function f$i() { return $i; }"; done >"$S/public/assets/site.js"
cp -a "$S" "$T/papp"
SBUILD="$SW build bench-site --path $S -q"

echo "== untimed first slipway build (makes the default stack if needed, and the builder)"
"$SW" build bench-site --path "$S" >"$T/first.log" 2>&1 || { cat "$T/first.log"; exit 1; }
grep -E "Server: |Installed nginx" "$T/first.log" | sed 's/^/   /'

for img in slipway/build:bookworm slipway/run:bookworm; do
  "$SW" save "$img" -o "$T/base.tar" >/dev/null
  $P load -q -i "$T/base.tar" >/dev/null
done
rm -f "$T/base.tar"
RUN_USER=$($P image inspect --format '{{.Config.User}}' localhost/slipway/run:bookworm)
cat >"$T/papp/nginx.conf" <<'NGINX'
worker_processes auto;
pid /tmp/nginx.pid;
error_log stderr warn;
daemon off;
events { worker_connections 1024; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log /dev/stdout;
    sendfile on;
    gzip on;
    gzip_types text/plain text/css text/xml application/javascript application/json image/svg+xml;
    client_body_temp_path /tmp/client_body;
    proxy_temp_path /tmp/proxy;
    fastcgi_temp_path /tmp/fastcgi;
    uwsgi_temp_path /tmp/uwsgi;
    scgi_temp_path /tmp/scgi;
    server {
        listen 8080;
        root /usr/share/nginx/html;
        index index.html;
        location / { try_files $uri $uri/ =404; }
    }
}
NGINX
printf 'Dockerfile\n.dockerignore\n' >"$T/papp/.dockerignore"
cat >"$T/papp/Dockerfile" <<DOCKERFILE
# Stands in for FROM nginx:bookworm, on the run image slipway's builds use.
FROM localhost/slipway/build:bookworm AS nginx
USER root
RUN apt-get update -q && apt-get install -y -q --no-install-recommends nginx && rm -rf /var/lib/apt/lists/*

FROM localhost/slipway/run:bookworm
COPY --from=nginx /usr/sbin/nginx /usr/sbin/nginx
COPY --from=nginx /etc/nginx /etc/nginx
COPY --from=nginx /usr/lib/x86_64-linux-gnu/libpcre2-8.so.0* /usr/lib/x86_64-linux-gnu/libcrypt.so.1* /usr/lib/x86_64-linux-gnu/
COPY nginx.conf /etc/nginx/nginx.conf
COPY public /usr/share/nginx/html
USER $RUN_USER
CMD ["nginx"]
DOCKERFILE
PBUILD="$P build -q --network host -t bench-site $T/papp"
$PBUILD >/dev/null 2>"$T/pfirst.log" || { cat "$T/pfirst.log"; exit 1; }

cat >"$T/edit.sh" <<'EOF2'
#!/bin/sh
echo "<!-- edit $(date +%s%N) -->" >>"$1/public/index.html"
EOF2
chmod +x "$T/edit.sh"

declare -A M
echo "== timing ($RUNS runs per case)"
bench_cases bench-site $S $T/papp

# Both images serve the site (gzip on); then sizes, the slipway image loaded into the same
# storage, where it takes over the name bench-site.
smoke() { # name
  local port=$((20000 + RANDOM % 20000)) body=""
  if [ "$1" = podman ]; then # the Dockerfile's nginx listens on 8080: move it to a free port
    $P run -d --name "smoke-$1" --network host --entrypoint bash localhost/bench-site:latest \
      -c 'c=$(</etc/nginx/nginx.conf); printf "%s\n" "${c//listen 8080/listen $0}" >/tmp/n.conf && exec nginx -c /tmp/n.conf' "$port" >/dev/null
  else
    $P run -d --name "smoke-$1" --network host -e PORT=$port localhost/bench-site:latest >/dev/null
  fi
  for _ in $(seq 600); do body=$(curl -sf "http://127.0.0.1:$port/" 2>/dev/null) && break; sleep 0.1; done
  enc=$(curl -sf -H 'Accept-Encoding: gzip' -o /dev/null -D - "http://127.0.0.1:$port/assets/site.css" | tr -d '\r' | sed -n 's/^Content-Encoding: //Ip' || true)
  case "$body" in
  *"bench site"*) echo "   $1 image serves the site (site.css Content-Encoding: ${enc:-none})" ;;
  *) echo "$1 image does not serve the site; its output:" >&2; $P logs "smoke-$1" >&2 || true; $P rm -f "smoke-$1" >/dev/null; exit 1 ;;
  esac
  $P rm -f "smoke-$1" >/dev/null
}
PSIZE=$($P image inspect --format '{{.Size}}' localhost/bench-site:latest)
smoke podman
"$SW" save bench-site -o "$T/sapp.tar" >/dev/null
$P load -q -i "$T/sapp.tar" >/dev/null
rm -f "$T/sapp.tar"
SSIZE=$($P image inspect --format '{{.Size}}' localhost/bench-site:latest)
smoke slipway
BASE=$($P image inspect --format '{{.Size}}' localhost/slipway/run:bookworm)

echo
echo "== results (medians of $RUNS runs; $(nproc) cores; podman storage: $DRIVER; Debian nginx, a 32-file static site)"
bench_time_table
printf '%-10s %11sM %11sM %16.2f   (uncompressed, podman image inspect .Size)\n' size "$(mb "$SSIZE")" "$(mb "$PSIZE")" "$(echo "$SSIZE $PSIZE" | awk '{print $1 / $2}')"
printf '%-10s %11sM %11sM %16.2f   (on slipway/run:bookworm, %sM)\n' added "$(mb $((SSIZE - BASE)))" "$(mb $((PSIZE - BASE)))" "$(echo "$SSIZE $BASE $PSIZE" | awk '{print ($1 - $2) / ($3 - $2)}')" "$(mb "$BASE")"
echo "hyperfine JSON and logs are removed with $T; rerun with RUNS=N for more runs"
