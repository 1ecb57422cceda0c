#!/usr/bin/env bash
# Debian packages the tests need, installed when missing and when root (once: nothing is
# done when every package is already installed). `make test` and `make e2e` call it.
# Usage: Tests/deps.sh [SET...]   (default: test)
# Exit 0 when every package of the sets is installed afterwards; 1 otherwise, with the
# reason on stderr (e.g. not root), so a caller can print a skip line.
set -uo pipefail

# One line per set: the packages it needs. Add yours here.
declare -A SETS=(
    [test]="redis-server systemd"
    [e2e]="podman runc debootstrap"
)

want=()
for set in "${@:-test}"; do
    [ -n "${SETS[$set]+x}" ] || { echo "deps.sh: unknown set '$set' (known: ${!SETS[*]})" >&2; exit 2; }
    for p in ${SETS[$set]}; do want+=("$p"); done
done

missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "deps.sh: missing ${missing[*]} and not root: cannot install them" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null; then
    echo "deps.sh: missing ${missing[*]} and no apt-get" >&2
    exit 1
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Every wait has a deadline: apt gets 10 minutes for the lists and the packages together.
if ! timeout 600 bash -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@" >/dev/null' _ "${missing[@]}"; then
    echo "deps.sh: apt-get install ${missing[*]} failed" >&2
    exit 1
fi
exit 0
