#!/usr/bin/env bash
# Prints the Debian mirror this machine's apt uses (for debootstrap): the first deb URI of
# /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list that serves the main archive
# (not -security, not a third-party repository). Falls back to deb.debian.org.
set -uo pipefail
pick() {
    grep -hE '^[[:space:]]*(URIs:|deb[[:space:]])' "$@" 2>/dev/null \
        | sed -E 's/^[[:space:]]*URIs:[[:space:]]*//; s/^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//' \
        | awk '{print $1}' | grep -E '^https?://' | grep -v -- '-security' | grep -E '/debian/?$' | head -1
}
m=$(pick /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list)
echo "${m:-http://deb.debian.org/debian}"
