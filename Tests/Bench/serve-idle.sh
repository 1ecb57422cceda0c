#!/usr/bin/env bash
# serve's availability while other connections are held open (issue #11 item 11): for each kind
# of held connection (idle, slowloris, kept-alive, a mix), 2,000 of them from 127.0.0.1, then 20
# fresh /readyz probes with kubelet's 1 s timeout, one every 250 ms. Prints Markdown rows and
# serve's RSS after each. Python 3 standard library only (Tests/Bench/idle_connections.py).
# Usage: Tests/Bench/serve-idle.sh [BIN] [HOLD]   (default .build/release/readiness-probe, 2000)
set -euo pipefail
BIN="${1:-.build/release/readiness-probe}"
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
HOLD="${2:-2000}"
HERE="$(cd "$(dirname "$0")" && pwd)"
TMP="$(mktemp -d /tmp/rp-idle.XXXXXX)"
PID=""
cleanup() {
    if [ -n "$PID" ]; then kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
    rm -rf "$TMP"
}
trap cleanup EXIT
printf '#!/bin/sh\nexit 0\n' > "$TMP/h"; chmod 755 "$TMP/h"
printf '[probe]\nhooks_dir =\nsonic_hook =\n[start]\nprogram =\n[hook:one]\ncommand = %s\n' "$TMP/h" > "$TMP/probe.conf"

echo "| held | kind | fresh probes answered (1 s timeout) | median | max | held ones serve closed | serve RSS after |"
echo "|---|---|---|---|---|---|---|"
for kind in idle slow keepalive mix; do
    # A fresh server per kind, so that one kind's leftovers do not help or hurt the next.
    "$BIN" serve --config "$TMP/probe.conf" --listen 127.0.0.1:0 --period 1s --quiet 2>"$TMP/serve.log" &
    PID=$!
    for _ in $(seq 100); do grep -q 'listening on' "$TMP/serve.log" 2>/dev/null && break; sleep 0.05; done
    PORT="$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/serve.log" | head -1)"
    sleep 1.2 # the first result
    row="$(python3 "$HERE/idle_connections.py" "$PORT" --hold "$HOLD" --kind "$kind" --probes 20 --timeout 1.0)"
    rss="$(awk '/VmRSS/ {print $2 " " $3}' "/proc/$PID/status")"
    echo "$row $rss |"
    kill -TERM "$PID"; wait "$PID" 2>/dev/null || true; PID=""
done
