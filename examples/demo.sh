#!/usr/bin/env bash
# make demo: a real supervisord runs the example container from a temporary folder;
# readiness-probe probes it as it starts (code 2), becomes ready (0), loses a critical
# daemon (4) and loses supervisord itself (3). Everything it started is stopped at the end.
set -uo pipefail
BIN="$(cd "$(dirname "${1:-.build/release/readiness-probe}")" && pwd)/$(basename "${1:-.build/release/readiness-probe}")"
HERE="$(cd "$(dirname "$0")" && pwd)"
command -v supervisord >/dev/null || { echo "demo: supervisord not found (run via 'make demo')" >&2; exit 1; }

TMP="$(mktemp -d /tmp/rp-demo.XXXXXX)"
SUP_PID=""
cleanup() {
    if [ -n "$SUP_PID" ] && kill -0 "$SUP_PID" 2>/dev/null; then
        kill -TERM "$SUP_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$SUP_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SUP_PID" 2>/dev/null
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

# The example as installed in the image, with /run, /usr/local/bin and /etc/readiness-probe
# moved under $TMP.
mkdir -p "$TMP/run" "$TMP/etc"
cp -R "$HERE/container/bin" "$TMP/bin"
cp -R "$HERE/container/hooks.d" "$TMP/etc/hooks.d"
chmod 0755 "$TMP/bin"/* "$TMP/etc/hooks.d"/*
rewrite() { sed -e "s#/run/#$TMP/run/#g; s#= /run\$#= $TMP/run#; s#/usr/local/bin/#$TMP/bin/#g; s#/etc/readiness-probe#$TMP/etc#g; s#/usr/bin/readiness-probe#$BIN#g" "$1"; }
rewrite "$HERE/container/supervisord.conf" > "$TMP/supervisord.conf"
rewrite "$HERE/container/readiness-probe.conf" > "$TMP/etc/readiness-probe.conf"
export READINESS_PROBE_CONFIG="$TMP/etc/readiness-probe.conf"

probe() {
    local title="$1"
    echo
    echo "### $title"
    echo "\$ readiness-probe run"
    "$BIN" run
    local rc=$?
    echo "(exit $rc)"
    return $rc
}

echo "## readiness-probe demo: $TMP"
"$BIN" validate || exit 1
START_SECONDS=3 READINESS_SERVE_LISTEN=127.0.0.1:0 supervisord -n -c "$TMP/supervisord.conf" >"$TMP/supervisord.out" 2>&1 &
SUP_PID=$!
for _ in $(seq 100); do [ -S "$TMP/run/supervisor.sock" ] && break; sleep 0.05; done
[ -S "$TMP/run/supervisor.sock" ] || { echo "supervisord did not start" >&2; cat "$TMP/supervisord.out" >&2; exit 1; }

probe "1. supervisord has just started: start.sh is still running (expect 2)"
first=$?

echo
echo "### 2. probing every second until ready (what kubelet does every periodSeconds)"
rc=1
for i in $(seq 30); do
    "$BIN" run --format summary | head -1 | sed "s/^/  t+${i}s  /"
    "$BIN" run >/dev/null; rc=$?
    [ $rc -eq 0 ] && break
    sleep 1
done
probe "3. ready (expect 0)"
ready=$?

echo
echo "\$ supervisorctl stop syncd"
supervisorctl -c "$TMP/supervisord.conf" stop syncd
probe "4. a critical daemon is stopped (expect 4)"
stopped=$?
"$BIN" run --format verbose | sed 's/^/    /'

echo
echo "\$ kill -TERM <supervisord>"
kill -TERM "$SUP_PID"
for _ in $(seq 100); do kill -0 "$SUP_PID" 2>/dev/null || break; sleep 0.1; done
probe "5. supervisord is gone (expect 3)"
down=$?

echo
echo "## codes seen: starting=$first ready=$ready stopped=$stopped down=$down (expected 2 0 4 3)"
[ "$first $ready $stopped $down" = "2 0 4 3" ]
