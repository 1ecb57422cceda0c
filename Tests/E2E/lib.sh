# Shared by the e2e scripts (sourced). A private podman store under $E2E_DIR, never the
# machine's: every podman call goes through pm / PM.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
E2E_DIR="${E2E_DIR:-$ROOT/.build/e2e}"
# What the example Dockerfiles FROM, imported into the private store only (no registry pulls).
BASE_IMAGE="docker.io/library/debian:bookworm-slim"
BASE_TAR="$E2E_DIR/base-bookworm.tar"

# The recipe of docs/containers.md: runc (crun fails on this machine's hybrid cgroups),
# cgroupfs (no systemd), vfs storage, a private root/runroot/tmpdir, events in a file.
PM=(podman --root "$E2E_DIR/storage" --runroot "$E2E_DIR/runroot" --tmpdir "$E2E_DIR/tmp"
    --runtime runc --cgroup-manager cgroupfs --storage-driver vfs --events-backend file)
pm() { "${PM[@]}" "$@"; }
# podman's default rlimits exceed this machine's hard limits: runc fails on setrlimit.
ULIMITS=(--ulimit nofile=1024:1024 --ulimit nproc=1000:1000)

log() { printf '%s e2e: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
