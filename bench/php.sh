#!/usr/bin/env bash
# PHP benchmark (issue 15): `slipway build` of a Composer app served by nginx + php-fpm
# (the default builder's production default) against `podman build` of the Dockerfile a
# PHP developer writes for it on Debian, in the same run, on the same machine:
#   cold      no build cache (slipway: app image and its cache removed; podman: --no-cache
#             after removing the app image); base images stay
#   warm      rebuild with no change
#   one-file  rebuild after appending a comment to public/index.php
# Each case runs RUNS times (default 3) under hyperfine; the script prints the medians, the
# slipway/podman ratio per case, both image sizes and the sizes of both bases.
#
# Fairness:
# - Same PHP and servers: Debian bookworm's php8.2-fpm, php8.2-mbstring, nginx and
#   Composer on both sides, from deb.debian.org.
# - Same packages, same repository: bench/composerrepo serves the app's one Composer
#   package on 127.0.0.1 (no Packagist here); both sides read it through Composer's
#   config.json (slipway: a binding of type composer; podman: a bind mount as COMPOSER_HOME).
# - Bases differ, as they do for users: slipway's run image (slipway/run:bookworm) vs a
#   Debian bookworm minbase root file system with apt (the e2e cache's debootstrap, apt
#   lists and caches left out), standing in for debian:bookworm-slim. Both base sizes are
#   printed; compare what each side adds.
# - podman uses overlay storage (what users have); PODMAN_STORAGE_DRIVER=vfs otherwise.
#
# Usage: bench/php.sh            (RUNS=5 bench/php.sh for more runs)
# Needs: root, bwrap, podman (runc), hyperfine, jq, go, network to deb.debian.org, and the
# minbase root file system the e2e tests make (/var/tmp/slipway-test-cache/debian-bookworm-minbase).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
RUNS=${RUNS:-3}
DRIVER=${PODMAN_STORAGE_DRIVER:-overlay}
DEBS=${SLIPWAY_DEB_CACHE:-/var/tmp/slipway-test-cache/debs}
MINBASE=${MINBASE:-/var/tmp/slipway-test-cache/debian-bookworm-minbase}
for t in bwrap podman runc hyperfine jq go; do
  command -v "$t" >/dev/null || { echo "bench/php.sh needs $t" >&2; exit 2; }
done
[ -d "$MINBASE/usr" ] || { echo "no Debian minbase at $MINBASE (run the e2e tests once, or set MINBASE)" >&2; exit 2; }

make build >/dev/null
SW=$PWD/bin/slipway
T=$(mktemp -d /tmp/swphp.XXXXXX) # short: podman's runroot must stay under 50 characters
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

go build -o "$T/composerrepo" ./bench/composerrepo
"$T/composerrepo" -app "$T/sapp" -home "$T/composer-home" -url-file "$T/url" &
REPO_PID=$!
for _ in $(seq 600); do [ -s "$T/url" ] && break; sleep 0.1; done
[ -s "$T/url" ] || { echo "composerrepo did not start" >&2; exit 1; }
cp -a "$T/sapp" "$T/papp"
SBUILD="$SW build bench-php --path $T/sapp --network host --binding composer-repo=$T/composer-home -q"

echo "== untimed first slipway build (makes the default stack if needed, and the builder)"
$SBUILD >"$T/first.log" 2>&1 || { cat "$T/first.log"; exit 1; }

tar -C "$MINBASE" --exclude ./var/lib/apt/lists --exclude ./var/cache/apt --exclude ./proc --exclude ./sys --exclude ./dev -c . \
  | $P import -q - localhost/bench/debian:bookworm >/dev/null
cat >"$T/papp/site.conf" <<'NGINX'
server {
    listen 8080;
    root /app/public;
    index index.php;
    location / { try_files $uri $uri/ /index.php$is_args$args; }
    location ~ \.php$ {
        include snippets/fastcgi-php.conf;
        fastcgi_pass unix:/run/php/php8.2-fpm.sock;
    }
}
NGINX
cat >"$T/papp/start.sh" <<'SH'
#!/bin/sh
php-fpm8.2 -D && exec nginx -g 'daemon off;'
SH
chmod +x "$T/papp/start.sh"
printf 'vendor\nDockerfile\n.dockerignore\n' >"$T/papp/.dockerignore"
cat >"$T/papp/Dockerfile" <<'DOCKERFILE'
FROM localhost/bench/debian:bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends php8.2-cli php8.2-fpm php8.2-mbstring nginx composer unzip \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /run/php
WORKDIR /app
COPY composer.json composer.lock ./
RUN --mount=type=bind,from=composer-home,target=/tmp/composer-home \
    COMPOSER_HOME=/tmp/composer-home composer install --no-dev --no-interaction --no-progress --no-autoloader
COPY . .
RUN composer dump-autoload --optimize --no-dev \
 && cp site.conf /etc/nginx/sites-enabled/default
CMD ["/app/start.sh"]
DOCKERFILE
PBUILD="$P build -q --network host --build-context composer-home=$T/composer-home -t bench-php $T/papp"
$PBUILD >/dev/null 2>"$T/pfirst.log" || { cat "$T/pfirst.log"; exit 1; }

cat >"$T/edit.sh" <<'EOF2'
#!/bin/sh
echo "<?php // edit $(date +%s%N)" >>"$1/public/index.php"
EOF2
chmod +x "$T/edit.sh"

declare -A M
echo "== timing ($RUNS runs per case)"
bench_cases bench-php $T/sapp $T/papp

PSIZE=$($P image inspect --format '{{.Size}}' localhost/bench-php:latest)
PBASE=$($P image inspect --format '{{.Size}}' localhost/bench/debian:bookworm)
"$SW" save bench-php -o "$T/sapp.tar" >/dev/null
$P load -q -i "$T/sapp.tar" >/dev/null
rm -f "$T/sapp.tar"
SSIZE=$($P image inspect --format '{{.Size}}' localhost/bench-php:latest)
"$SW" save slipway/run:bookworm -o "$T/run.tar" >/dev/null
$P load -q -i "$T/run.tar" >/dev/null
SBASE=$($P image inspect --format '{{.Size}}' localhost/slipway/run:bookworm)

echo
echo "== results (medians of $RUNS runs; $(nproc) cores; podman storage: $DRIVER; Debian PHP 8.2, nginx + php-fpm, one Composer package)"
bench_time_table
printf '%-10s %11sM %11sM %16.2f   (uncompressed, podman image inspect .Size)\n' size "$(mb "$SSIZE")" "$(mb "$PSIZE")" "$(echo "$SSIZE $PSIZE" | awk '{print $1 / $2}')"
printf '%-10s %11sM %11sM   (slipway/run:bookworm vs the Debian minbase)\n' base "$(mb "$SBASE")" "$(mb "$PBASE")"
printf '%-10s %11sM %11sM %16.2f\n' added "$(mb $((SSIZE - SBASE)))" "$(mb $((PSIZE - PBASE)))" "$(echo "$SSIZE $SBASE $PSIZE $PBASE" | awk '{print ($1 - $2) / ($3 - $4)}')"
