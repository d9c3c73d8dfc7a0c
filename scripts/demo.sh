#!/usr/bin/env bash
# The main job in one command: a Procfile app becomes a running image with no builder, no
# flags and no Dockerfile, then a one-file change rebuilds in a fraction of a second.
# Uses a throwaway store and podman storage under $DEMO_DIR (default /tmp/slipway-demo).
set -euo pipefail
cd "$(dirname "$0")/.."
make build >/dev/null
D=${DEMO_DIR:-/tmp/slipway-demo}
mkdir -p "$D/app"
export SLIPWAY_STORE=$D/store SLIPWAY_CONFIG=$D/config.toml
S=$PWD/bin/slipway
cat > "$D/app/Procfile" <<'PROC'
web: echo "Hello from a slipway image: $(cat /workspace/message.txt)"
PROC
echo "first build" > "$D/app/message.txt"

echo "==> slipway build demo --path $D/app   (first use makes the default stack and builder)"
"$S" build demo --path "$D/app"
"$S" inspect demo
"$S" save demo -o "$D/demo.tar"
P=(podman --root "$D/pod" --runroot "/tmp/sw-demo-run" --storage-driver vfs --cgroup-manager cgroupfs --events-backend none --runtime runc)
"${P[@]}" load -q -i "$D/demo.tar" >/dev/null
echo "==> podman run --rm localhost/demo"
"${P[@]}" run --rm --network none localhost/demo

echo "rebuilt after one change" > "$D/app/message.txt"
echo "==> rebuild after changing one file"
time "$S" build demo --path "$D/app" -q
"$S" save demo -o "$D/demo.tar"
"${P[@]}" load -q -i "$D/demo.tar" >/dev/null
"${P[@]}" run --rm --network none localhost/demo
