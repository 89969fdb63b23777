#!/usr/bin/env bash
# Smoke test of the image IMAGE whose root filesystem is ROOT: `podman run` once (containers
# cannot start in every sandbox: the error is printed), then the image's own binary, libraries,
# models and config run by chroot into ROOT as the image's user: `serve` answers /readyz and
# screens an uploaded clip, and the CLI checks the same clip. Needs root and curl.
set -euo pipefail
image=$1
root=$2
REPO=$(cd "$(dirname "$0")/../.." && pwd)

echo "== podman run --rm $image --version"
if ! podman run --rm "$image" --version 2>&1; then
    echo "== podman cannot run the container here; smoke-testing its root filesystem with chroot"
fi

pid=
mounted=
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    if [ -n "$mounted" ]; then umount "$root/proc"; fi
}
trap cleanup EXIT
# ONNX Runtime reads /proc for the CPU's features; without it the smoke test still runs.
if mount -t proc proc "$root/proc" 2>/dev/null; then mounted=1; fi

in_image() {
    chroot --userspec=10001:10001 "$root" /usr/bin/env -i HOME=/var/lib/clipguard \
        CLIPGUARD_CONFIG=/etc/clipguard/clipguard.toml "$@"
}

clip=$root/tmp/smoke.mp4
ffmpeg -hide_banner -loglevel error -y -loop 1 -i "$REPO/.local/testdata/astronaut.png" -t 3 \
    -vf scale=640:360 -pix_fmt yuv420p -c:v libx264 "$clip"
chmod 0644 "$clip"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp)
in_image CLIPGUARD_SERVER__BIND=127.0.0.1:$port CLIPGUARD_LOG__FORMAT=json \
    /opt/clipguard/bin/clipguard serve >"$log" 2>&1 &
pid=$!
for _ in $(seq 120); do
    if curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; then break; fi
    if ! kill -0 "$pid" 2>/dev/null; then cat "$log"; echo "the server exited"; exit 1; fi
    sleep 1
done
echo "== GET /readyz"
curl -sf "http://127.0.0.1:$port/readyz" | python3 -c '
import json, sys
r = json.load(sys.stdin)
print(r["status"], "policy", r["policy"]["name"], "models", " ".join(m["name"] for m in r["models"]))'
echo "== POST /v1/clips/check (X-Request-Id: smoke-1)"
headers=$(mktemp)
curl -sf -D "$headers" -H 'X-Request-Id: smoke-1' -F "file=@$clip;type=video/mp4" \
    "http://127.0.0.1:$port/v1/clips/check" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print("action", d["action"], "decision", d["id"], "policy", d["policy"]["name"])'
tr -d '\r' <"$headers" | grep -i '^x-request-id'
echo "== the server's log (JSON), first and last lines"
head -2 "$log"
tail -2 "$log"
echo "== clipguard check /tmp/smoke.mp4 (CLI in the image)"
status=0
in_image /opt/clipguard/bin/clipguard check /tmp/smoke.mp4 || status=$?
echo "exit status $status (0 allow, 10 review, 20 block)"
[ "$status" = 0 ] || [ "$status" = 10 ] || [ "$status" = 20 ]
echo "== smoke test passed"
