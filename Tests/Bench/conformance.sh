#!/usr/bin/env bash
# What a first dynamic type question costs a fully static Swift program (callgrind instructions):
# a cast to a concrete type, a cast to a protocol, a protocol requirement call through an
# existential, and a first Set<Int>. The numbers behind docs/architecture.md, "The probe path".
# Needs valgrind. Usage: Tests/Bench/conformance.sh
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
TMP="$(mktemp -d /tmp/rp-conf.XXXXXX)"
trap 'rm -rf "$TMP"' EXIT
echo "| variant | instructions | over NONE |"
echo "|---|---|---|"
base=""
for v in NONE CAST_CONCRETE CAST_PROTOCOL WITNESS FIRST_SET; do
    swiftc -O -static-executable "-D$v" "$HERE/conformance.swift" -o "$TMP/$v" 2>/dev/null
    n="$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$TMP/$v" 2>&1 >/dev/null | awk '/refs:/ {print $NF}' | tr -d ,)"
    [ -z "$base" ] && base="$n"
    echo "| $v | $n | $((n - base)) |"
done
