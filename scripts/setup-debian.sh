#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine to build, test and run slipway: the sandbox and test
# tools from Debian's packages, podman's config, and the slipway binary (make build).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo

# openjdk-17-jdk-headless: e2e/java compiles its fixture jars with the host's javac.
packages=(bubblewrap slirp4netns podman crun runc uidmap skopeo docker-registry debootstrap debian-archive-keyring ca-certificates git make curl hyperfine jq time openjdk-17-jdk-headless)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The docker-registry package starts a registry on :5000 at install; tests start their own
# on 127.0.0.1, so stop the packaged one to keep the port free.
if command -v systemctl >/dev/null && systemctl is-active --quiet docker-registry 2>/dev/null; then
  $SUDO systemctl stop docker-registry || true
fi
pkill -f '^/usr/bin/docker-registry serve /etc/docker/registry/config.yml' 2>/dev/null || true

# podman on this kind of machine needs default_ulimits cleared (no rlimit raising in CI sandboxes).
if [ ! -f /etc/containers/containers.conf ] || ! grep -q default_ulimits /etc/containers/containers.conf; then
  $SUDO mkdir -p /etc/containers
  printf '[containers]\ndefault_ulimits = []\n' | $SUDO tee /etc/containers/containers.conf >/dev/null
fi

if ! command -v go >/dev/null; then
  if [ -x /usr/local/go/bin/go ]; then export PATH=/usr/local/go/bin:$PATH; else
    echo "Go >= 1.26 is required (the go line of go.mod): install it at /usr/local/go from https://go.dev/dl/"; exit 1
  fi
fi
echo "==> building slipway"
make build
echo "==> done: $(pwd)/bin/slipway"
