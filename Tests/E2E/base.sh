#!/usr/bin/env bash
# The base image, without a registry: debootstrap a minimal bookworm with supervisor from
# this machine's Debian mirror, cache it as a tarball in $E2E_DIR, import it into the
# private store. A cached tarball makes this take seconds; a fresh one about 1-2 minutes.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
mkdir -p "$E2E_DIR"
if pm image exists "$BASE_IMAGE" 2>/dev/null; then exit 0; fi
if [ ! -s "$BASE_TAR" ]; then
    mirror="$("$ROOT/Tests/E2E/mirror.sh")"
    rootfs="$E2E_DIR/rootfs.tmp"
    rm -rf "$rootfs"
    log "debootstrap bookworm from $mirror (cached afterwards in $BASE_TAR)"
    start=$(date +%s)
    if ! timeout 600 debootstrap --variant=minbase --include=supervisor bookworm "$rootfs" "$mirror" \
        > "$E2E_DIR/debootstrap.log" 2>&1; then
        log "debootstrap failed; the last lines of $E2E_DIR/debootstrap.log:"
        tail -20 "$E2E_DIR/debootstrap.log" >&2
        rm -rf "$rootfs"
        exit 1
    fi
    # No package lists in the image: the Dockerfile's apt-get update fetches fresh ones.
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
    tar -C "$rootfs" -cf "$BASE_TAR.tmp" . && mv "$BASE_TAR.tmp" "$BASE_TAR"
    rc=$?
    rm -rf "$rootfs"
    [ $rc -eq 0 ] || { log "could not write $BASE_TAR"; exit 1; }
    log "base rootfs built in $(( $(date +%s) - start ))s"
fi
pm import --quiet "$BASE_TAR" "$BASE_IMAGE" >/dev/null || { log "podman import failed"; exit 1; }
