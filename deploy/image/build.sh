#!/usr/bin/env bash
# Builds the container image from Debian packages only (no image registry): a Debian 12
# root filesystem made by mmdebstrap with the shared libraries the release binary and ONNX
# Runtime link against (found with ldd, mapped to their packages with dpkg) and
# ca-certificates, then the binary, the models, the ONNX Runtime library, the policies and
# deploy/image/clipguard.toml; imported as an OCI image with `podman import` and saved as an
# OCI archive. Then smoke-tested (deploy/image/smoke.sh). Needs root. Idempotent: the Debian
# base is rebuilt only when its package list changes.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${IMAGE_OUT:-$REPO/.local/image}
NAME=${IMAGE_NAME:-clipguard}
TAG=${IMAGE_TAG:-$(sed -n 's/^version = "\(.*\)"/\1/p' "$REPO/Cargo.toml" | head -1)}
BIN=$REPO/target/release/clipguard
MODELS=$REPO/.local/models
mkdir -p "$OUT"

# The Debian packages that hold the libraries the binary and ONNX Runtime load.
libs=$( (ldd "$BIN"; ldd "$MODELS"/libonnxruntime.so.*) | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u)
packages=$(for lib in $libs; do dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib"; done |
    cut -d: -f1 | sort -u | tr '\n' ',')
packages="${packages}ca-certificates"
echo "Debian packages: $packages"

base=$OUT/base-$(echo "$packages" | sha256sum | cut -c1-16).tar
if [ ! -f "$base" ]; then
    rm -f "$OUT"/base-*.tar
    mmdebstrap --variant=minbase --format=tar --include="$packages" \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        bookworm "$base.partial" && mv "$base.partial" "$base"
fi

root=$OUT/rootfs
rm -rf "$root"
mkdir -p "$root"
tar -C "$root" -xf "$base"
install -D -m 0755 "$BIN" "$root/opt/clipguard/bin/clipguard"
mkdir -p "$root/opt/clipguard/models"
# The files the manifest names, and the manifest itself.
install -m 0644 "$REPO/models/models.toml" "$root/opt/clipguard/models/models.toml"
for f in $(sed -n 's/^file = "\(.*\)"/\1/p' "$REPO/models/models.toml"); do
    install -m 0644 "$MODELS/$f" "$root/opt/clipguard/models/$f"
done
mkdir -p "$root/opt/clipguard/policies/lists" "$root/opt/clipguard/policies/meaning"
install -m 0644 "$REPO"/policies/*.yaml "$root/opt/clipguard/policies/"
install -m 0644 "$REPO"/policies/lists/*.txt "$root/opt/clipguard/policies/lists/"
install -m 0644 "$REPO"/policies/meaning/*.yaml "$root/opt/clipguard/policies/meaning/"
install -D -m 0644 "$REPO/deploy/image/clipguard.toml" "$root/etc/clipguard/clipguard.toml"
# An unprivileged user owning the data folder (uid 10001, as the Kubernetes manifests run).
echo "clipguard:x:10001:10001:clipguard:/var/lib/clipguard:/usr/sbin/nologin" >> "$root/etc/passwd"
echo "clipguard:x:10001:" >> "$root/etc/group"
install -d -m 0750 -o 10001 -g 10001 "$root/var/lib/clipguard"

tar -C "$root" --numeric-owner -cf "$OUT/rootfs.tar" .
podman rmi -f "$NAME:$TAG" >/dev/null 2>&1 || true
podman import \
    --change 'ENTRYPOINT ["/opt/clipguard/bin/clipguard"]' \
    --change 'CMD ["serve"]' \
    --change 'USER 10001' \
    --change 'WORKDIR /var/lib/clipguard' \
    --change 'ENV CLIPGUARD_CONFIG=/etc/clipguard/clipguard.toml' \
    --change 'ENV CLIPGUARD_SERVER__BIND=0.0.0.0:8080' \
    --change 'EXPOSE 8080' \
    "$OUT/rootfs.tar" "$NAME:$TAG" >/dev/null
rm -f "$OUT/$NAME-$TAG.oci.tar"
podman save --format oci-archive -o "$OUT/$NAME-$TAG.oci.tar" "$NAME:$TAG"
rm "$OUT/rootfs.tar"
echo "image $NAME:$TAG: $(podman image inspect --format '{{.Size}}' "$NAME:$TAG") bytes" \
    "(OCI archive $OUT/$NAME-$TAG.oci.tar: $(du -h "$OUT/$NAME-$TAG.oci.tar" | cut -f1))"

"$REPO/deploy/image/smoke.sh" "$NAME:$TAG" "$root"
