#!/bin/sh
# Debian packages the tests need, installed when missing and when we are root (once: one
# apt-get update and one install for all that are missing). `make test`, `make e2e` and
# `make deb` call it. Without root, the tests that need a missing tool say so and skip.
# Add a package with the reason it is needed.
set -eu
PACKAGES="
zsh        # CompletionTests: zsh -n on the generated zsh completion
fish       # CompletionTests: fish --no-execute on the generated fish completion
lintian    # make deb: the package must have no lintian errors
man-db     # make deb-test and ManPageTests: man -l on the generated page
groff-base # ManPageTests: groff -ww warnings on the generated page
redis-server # NotifyLiveTests: redis --supervised systemd sends READY=1 to the listener's notify socket
systemd    # NotifyLiveTests: systemd-notify --ready (a child sender with BARRIER=1)
curl       # DocTests: docs/serve.md's console block asks serve with curl
podman     # make e2e: the example images built and run (with runc; docs/containers.md)
runc       # make e2e: podman's runtime here (crun fails on hybrid cgroups)
debootstrap # make e2e: the base image, since no registry can be pulled from
"
missing=""
for p in $(printf '%s\n' "$PACKAGES" | sed 's/#.*//'); do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Tests/deps.sh: installing$missing" >&2
    apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $missing >/dev/null
else
    echo "Tests/deps.sh: missing$missing (not root: the tests that need them are skipped)" >&2
fi
