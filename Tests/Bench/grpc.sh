#!/usr/bin/env bash
# gRPC health checking vs HTTP on one `serve --listen --grpc` (release binary, three hook checks re-run
# every second): Check over one persistent HTTP/2 connection with 100 concurrent streams vs GET /readyz over
# 100 kept-alive HTTP/1.1 connections (h2load drives both: same tool, same machine); serve's max RSS with
# both listeners and 1,000 idle gRPC connections; and the node's cost per probe kind (a runtime exec with
# podman when it works here, vs a new connection per probe as the kubelet's httpGet and grpc probes do).
# Prints Markdown for docs/benchmarks.md. Needs h2load (nghttp2-client), hyperfine, curl.
# Usage: Tests/Bench/grpc.sh [BIN]   (default .build/release/readiness-probe; `make build` first)
set -euo pipefail
BIN="${1:-.build/release/readiness-probe}"
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
HERE="$(cd "$(dirname "$0")" && pwd)"
PY="${PYTHON:-python3}"
N="${BENCH_REQUESTS:-200000}"
PROBES="${BENCH_PROBES:-2000}"
for t in h2load hyperfine curl; do command -v $t >/dev/null || { echo "grpc.sh: $t missing (apt-get install nghttp2-client hyperfine curl)" >&2; exit 1; }; done
TMP="$(mktemp -d /tmp/rp-grpc.XXXXXX)"
PIDS=()
CONTAINER=""
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    [ -n "$CONTAINER" ] && podman rm -f -t 0 "$CONTAINER" >/dev/null 2>&1 || true
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

# start_serve NAME: serve with both listeners; sets HPORT, GPORT, SPID.
start_serve() {
    "$BIN" serve --config "$TMP/probe.conf" --listen 127.0.0.1:0 --grpc 127.0.0.1:0 --period 1s --quiet 2>"$TMP/$1.log" &
    SPID=$!
    PIDS+=("$SPID")
    for _ in $(seq 100); do grep -q 'listening on grpc' "$TMP/$1.log" 2>/dev/null && break; sleep 0.05; done
    HPORT="$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/$1.log" | head -1)"
    GPORT="$(sed -n 's/.*listening on grpc:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/$1.log" | head -1)"
    for _ in $(seq 100); do [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HPORT/readyz")" = 200 ] && break; sleep 0.05; done
}

# pct FILE P: the P-th percentile of h2load's --log-file response times (third column, microseconds), in ms.
pct() { awk -F'\t' '{print $3}' "$1" | sort -n | awk -v p="$2" '{a[NR]=$1} END {i=int(NR*p/100); if (i<1) i=1; printf "%.3f", a[i]/1000}'; }

start_serve load
printf '\0\0\0\0\0' > "$TMP/check.bin"   # HealthCheckRequest{service: ""}, gRPC-framed
echo "### Check vs GET /readyz ($N requests each, after 2,000 to warm up)"
echo
echo "| probe | client | requests/s | p50 | p99 | max | non-OK |"
echo "|---|---|---|---|---|---|---|"
run_h2load() { # LABEL CLIENT LOG ARGS...
    local label="$1" client="$2" log="$3"; shift 3
    h2load -n 2000 "$@" >/dev/null 2>&1 || true
    local out; out="$(h2load -n "$N" --log-file "$log" "$@" 2>&1)"
    local rps; rps="$(sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' <<<"$out")"
    local bad; bad="$(awk -F'\t' '$2 != 200' "$log" | wc -l)"
    echo "| $label | $client | $rps | $(pct "$log" 50) ms | $(pct "$log" 99) ms | $(pct "$log" 100) ms | $bad |"
}
run_h2load "grpc \`Check\`" "1 connection, 100 concurrent streams" "$TMP/grpc.log" -c 1 -m 100 -d "$TMP/check.bin" \
    -H 'content-type: application/grpc' -H 'te: trailers' "http://127.0.0.1:$GPORT/grpc.health.v1.Health/Check"
run_h2load "\`GET /readyz\`" "100 kept-alive HTTP/1.1 connections" "$TMP/http.log" --h1 -c 100 -m 1 "http://127.0.0.1:$HPORT/readyz"
run_h2load "grpc \`Check\`" "1 connection, 1 stream at a time" "$TMP/grpc1.log" -c 1 -m 1 -d "$TMP/check.bin" \
    -H 'content-type: application/grpc' -H 'te: trailers' "http://127.0.0.1:$GPORT/grpc.health.v1.Health/Check"
run_h2load "\`GET /readyz\`" "1 kept-alive HTTP/1.1 connection" "$TMP/http1.log" --h1 -c 1 -m 1 "http://127.0.0.1:$HPORT/readyz"
runs="$(curl -s "http://127.0.0.1:$HPORT/metrics" | awk '/^readiness_probe_runs_total/ {print $2}')"
echo
echo "serve's max RSS after the load: $(awk '/VmHWM/ {print $2 " " $3}' "/proc/$SPID/status"); background runs: $runs"
kill -TERM "$SPID"; wait "$SPID" 2>/dev/null || true

echo
echo "### serve with both listeners and 1,000 idle gRPC connections"
echo
start_serve idle
"$PY" "$HERE/grpc_probe.py" idle "$HPORT" "$GPORT" 1000 6 > "$TMP/idle.out" &
IDLE=$!
for _ in $(seq 200); do [ -s "$TMP/idle.out" ] && break; sleep 0.05; done
sleep 1
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$HPORT/readyz"; done
rss="$(awk '/VmRSS/ {print $2 " " $3}' "/proc/$SPID/status")"
conns="$(ls "/proc/$SPID/fd" | wc -l)"
wait "$IDLE" || true
hwm="$(awk '/VmHWM/ {print $2 " " $3}' "/proc/$SPID/status")"
echo "| what | value |"
echo "|---|---|"
echo "| connections | $(cat "$TMP/idle.out") |"
echo "| serve's open descriptors with them | $conns |"
echo "| RSS with them open | $rss |"
echo "| max RSS (VmHWM) | $hwm |"

echo
echo "### The node's cost per probe kind"
echo
cpu() { awk '{print $14 + $15}' "/proc/$SPID/stat"; }   # utime + stime, clock ticks
hz="$(getconf CLK_TCK)"
before="$(cpu)"
"$PY" "$HERE/grpc_probe.py" probes "$HPORT" "$GPORT" "$PROBES" > "$TMP/probes.out"
after="$(cpu)"
echo "| probe | how the kubelet does it | wall p50 | wall p99 |"
echo "|---|---|---|---|"
while IFS=$'\t' read -r name p50 p99; do
    echo "| $name | a new TCP connection per probe | $p50 ms | $p99 ms |"
done < "$TMP/probes.out"
echo
echo "serve's CPU for those $((2 * (PROBES + 20))) probes: $(( (after - before) * 1000 / hz )) ms in all (including its background runs)"

# A runtime exec: the same binary in a container (FROM scratch), `podman exec` of `run` (no checks).
if command -v podman >/dev/null && timeout 20 podman info >/dev/null 2>&1; then
    mkdir -p "$TMP/img"
    cp "$BIN" "$TMP/img/readiness-probe"
    printf '[probe]\nhooks_dir =\nsonic_hook =\n[start]\nprogram =\n' > "$TMP/img/probe.conf"
    printf 'FROM scratch\nCOPY readiness-probe /readiness-probe\nCOPY probe.conf /probe.conf\nENTRYPOINT ["/readiness-probe"]\n' > "$TMP/img/Containerfile"
    if podman build -q --ulimit nofile=1024:1024 --ulimit nproc=1000:1000 -t localhost/rp-bench-grpc "$TMP/img" >/dev/null 2>&1; then
        CONTAINER="rp-bench-grpc-$$"
        # podman's default rlimits exceed this machine's hard limits (runc fails on setrlimit): set them.
        podman run -d --name "$CONTAINER" --network none --ulimit nofile=1024:1024 --ulimit nproc=1000:1000 \
            localhost/rp-bench-grpc serve --config /probe.conf --listen 127.0.0.1:8080 --quiet >/dev/null
        sleep 1
        hyperfine -N -w 3 -r 30 --export-json "$TMP/exec.json" "podman exec $CONTAINER /readiness-probe run --config /probe.conf" >/dev/null 2>&1 || true
        if [ -s "$TMP/exec.json" ]; then
            "$PY" - "$TMP/exec.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
t = sorted(r["times"])
print(f"| exec: `podman exec C readiness-probe run` | a runtime exec per probe (runc) | {t[len(t)//2]*1e3:.1f} ms | {t[-1]*1e3:.1f} ms (max of {len(t)}) |")
print(f"\nthe exec's own CPU (podman, conmon, runc, the probe): user {r['user']*1e3:.1f} ms + system {r['system']*1e3:.1f} ms per probe (mean)")
PY
        fi
        podman rm -f -t 0 "$CONTAINER" >/dev/null 2>&1 || true
        CONTAINER=""
        podman rmi -f localhost/rp-bench-grpc >/dev/null 2>&1 || true
    else
        echo "(podman build failed here: no runtime exec figure)"
    fi
else
    echo "(podman not usable here: no runtime exec figure)"
fi
