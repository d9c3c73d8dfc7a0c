#!/usr/bin/env bash
# make release: static slipway binaries for linux/amd64 and linux/arm64 (launcher and
# default-builder buildpacks of the same architecture embedded), a .deb for each, and
# SHA256SUMS, in dist/. Needs only Go and dpkg-deb; reproducible for a given commit
# (-trimpath, no VCS stamp, file times from the commit).
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
export CGO_ENABLED=0 GOOS=linux GOFLAGS=-buildvcs=false

version=${VERSION:-$(git describe --tags --dirty 2>/dev/null | sed 's/^v//' || true)}
if [ -z "$version" ]; then
  version="0.1.0~git$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
fi
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 315532800)}
ldflags="-s -w -X github.com/slipway/slipway/version.Version=$version"

rm -rf dist && mkdir -p dist
for arch in ${ARCHES:-amd64 arm64}; do
  echo "==> slipway $version linux/$arch"
  GOARCH=$arch $GO build -trimpath -ldflags "-s -w" -o internal/launcherbin/launcher ./cmd/launcher
  # gen runs on this machine and cross-compiles the buildpacks for $arch.
  GOARCH= $GO run ./internal/defaultbuilder/gen internal/defaultbuilder/buildpacks "$arch"
  bin="dist/slipway-$version-linux-$arch"
  GOARCH=$arch $GO build -trimpath -ldflags "$ldflags" -tags embedlauncher,embedassets -o "$bin" ./cmd/slipway

  root=$(mktemp -d) && chmod 0755 "$root"
  install -D -m 0755 "$bin" "$root/usr/bin/slipway"
  install -D -m 0644 README.md "$root/usr/share/doc/slipway/README.md"
  mkdir -p "$root/DEBIAN"
  cat > "$root/DEBIAN/control" <<CONTROL
Package: slipway
Version: $version
Architecture: $arch
Maintainer: Slipway developers <slipway@users.noreply.invalid>
Section: devel
Priority: optional
Depends: bubblewrap, slirp4netns
Recommends: ca-certificates, podman
Description: daemonless Cloud Native Buildpacks builds
 Slipway turns application source into OCI images with Cloud Native Buildpacks,
 without a container daemon: buildpacks run in a bubblewrap sandbox made from the
 builder's build image. One static binary; it also answers as the CNB lifecycle.
CONTROL
  find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  dpkg-deb --root-owner-group -Zxz --build "$root" "dist/slipway_${version}_${arch}.deb" >/dev/null
  rm -rf "$root"
done
# Leave the embedded assets of this machine's architecture, as make build would.
$GO build -trimpath -ldflags "-s -w" -o internal/launcherbin/launcher ./cmd/launcher
$GO run ./internal/defaultbuilder/gen internal/defaultbuilder/buildpacks
(cd dist && sha256sum -- * > SHA256SUMS)
ls -l dist
