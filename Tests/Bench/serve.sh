#!/usr/bin/env bash
# serve under load: wrk against /readyz (ok body) and /readyz?verbose of the release binary,
# with three hook checks re-run every second in the background. Prints Markdown rows:
# requests/s, p99 latency, and the server's RSS after the run. Needs wrk (apt-get install wrk).
# Usage: Tests/Bench/serve.sh [BIN]   (default .build/release/readiness-probe; `make build` first)
set -euo pipefail
BIN="${1:-.build/release/readiness-probe}"
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
DURATION="${BENCH_DURATION:-10s}"
command -v wrk >/dev/null || { echo "serve.sh: wrk missing (apt-get install wrk)" >&2; exit 1; }
TMP="$(mktemp -d /tmp/rp-serve.XXXXXX)"
PID=""
cleanup() {
    if [ -n "$PID" ]; then kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
    rm -rf "$TMP"
}
trap cleanup EXIT

for i in 1 2 3; do printf '#!/bin/sh\nexit 0\n' > "$TMP/h$i"; chmod 755 "$TMP/h$i"; done
cat > "$TMP/probe.conf" <<CONF
[probe]
hooks_dir =
sonic_hook =
[start]
program =
[hook:one]
command = $TMP/h1
[hook:two]
command = $TMP/h2
[hook:three]
command = $TMP/h3
CONF

# QUIET=1 drops the access log (one stderr line per request otherwise, here to a file).
"$BIN" serve --config "$TMP/probe.conf" --listen 127.0.0.1:0 --period 1s ${QUIET:+--quiet} 2>"$TMP/serve.log" &
PID=$!
for _ in $(seq 100); do grep -q 'listening on' "$TMP/serve.log" 2>/dev/null && break; sleep 0.05; done
PORT="$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/serve.log" | head -1)"
for _ in $(seq 100); do [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz")" = 200 ] && break; sleep 0.05; done

echo "| endpoint | access log | requests/s | p99 | RSS after |"
echo "|---|---|---|---|---|"
for path in /readyz '/readyz?verbose' /metrics; do
    out="$(wrk -t2 -c50 -d"$DURATION" --latency "http://127.0.0.1:$PORT$path")"
    rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
    p99="$(awk '$1 == "99%" {print $2}' <<<"$out")"
    rss="$(awk '/VmRSS/ {print $2 " " $3}' "/proc/$PID/status")"
    errors="$(grep -E 'Non-2xx|Socket errors' <<<"$out" | tr '\n' ' ' || true)"
    log="on"; [ -n "${QUIET:-}" ] && log="off"
    echo "| \`$path\` | $log | $rps | $p99 | $rss |${errors:+ $errors}"
done
runs="$(curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^readiness_probe_runs_total/ {print $2}')"
echo
echo "background runs during the benchmark: $runs (one per second, whatever the request rate)"
