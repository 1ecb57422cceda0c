#!/usr/bin/env bash
# The runner under `wait` and `serve` (which used the task-based runner before issue #12 and now
# run the one executor), for one or more binaries side by side. Prints Markdown rows.
# Usage: Tests/Bench/runner.sh BIN [BIN...]   (e.g. a build of the previous main, then the new one)
# Needs hyperfine (apt-get install hyperfine) and supervisord (make venv) on PATH.
set -euo pipefail
RUNS="${BENCH_RUNS:-60}"
SERVE_SECONDS="${SERVE_SECONDS:-10}"
TMP="$(mktemp -d /tmp/rp-runner.XXXXXX)"
SD=""
cleanup() {
    if [ -n "$SD" ]; then kill -TERM "$SD" 2>/dev/null || true; wait "$SD" 2>/dev/null || true; fi
    rm -rf "$TMP"
}
trap cleanup EXIT

# Three trivial hooks; and the same with a supervisord (start + two critical programs).
for i in 1 2 3; do printf '#!/bin/sh\necho run >> %s/runs\nexit 0\n' "$TMP" > "$TMP/h$i"; chmod 755 "$TMP/h$i"; done
hooks() { for i in 1 2 3; do printf '[hook:h%s]\ncommand = %s/h%s\n' "$i" "$TMP" "$i"; done; }
{ printf '[probe]\ntimeout = 5s\nhooks_dir =\nsonic_hook =\n[start]\nprogram =\n'; hooks; } > "$TMP/hooks.conf"
{
    echo "[unix_http_server]"; echo "file=$TMP/s.sock"
    echo "[supervisord]"; echo "logfile=$TMP/sd.log"; echo "pidfile=$TMP/sd.pid"; echo "childlogdir=$TMP"
    echo "[rpcinterface:supervisor]"; echo "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface"
    echo "[program:start]"; echo "command=/bin/true"; echo "startsecs=0"; echo "autorestart=false"
    for p in p1 p2; do echo "[program:$p]"; echo "command=sleep 100000"; echo "startsecs=0"; done
} > "$TMP/supervisord.conf"
supervisord -n -c "$TMP/supervisord.conf" >/dev/null 2>&1 &
SD=$!
for _ in $(seq 300); do [ -S "$TMP/s.sock" ] && break; sleep 0.1; done
sleep 1
{ printf '[probe]\ntimeout = 5s\nhooks_dir =\nsonic_hook =\n[supervisor]\nserverurl = unix://%s/s.sock\nsource = xmlrpc\n[start]\nprogram = start\n[programs]\ncritical = p1, p2\n' "$TMP"; hooks; } > "$TMP/sd.conf"

echo "| binary | command | median ms | min ms | user ms | sys ms |"
echo "|---|---|---|---|---|---|"
for BIN in "$@"; do
    for conf in hooks sd; do
        for cmd in run wait; do
            hyperfine -N --warmup 5 --runs "$RUNS" --export-json "$TMP/h.json" "$BIN $cmd --config $TMP/$conf.conf" >/dev/null 2>&1
            python3 - "$TMP/h.json" "$BIN" "$cmd ($conf)" <<'PY'
import json, sys
x = json.load(open(sys.argv[1]))["results"][0]
print(f"| {sys.argv[2]} | {sys.argv[3]} | {x['median']*1000:.2f} | {x['min']*1000:.2f} | {x['user']*1000:.2f} | {x['system']*1000:.2f} |")
PY
        done
    done
done

# serve: the background runs' own cost. --period 100ms for SERVE_SECONDS; CPU time of the serve
# process (user + sys, from /proc) per run; threads while it runs; the runs' own durations.
echo
echo "| binary | config | runs | CPU ms per run | threads | run duration_ms (median of samples) |"
echo "|---|---|---|---|---|---|"
for BIN in "$@"; do
    for conf in hooks sd; do
        rm -f "$TMP/runs"
        "$BIN" serve --config "$TMP/$conf.conf" --listen 127.0.0.1:0 --period 100ms --quiet 2>"$TMP/serve.log" &
        PID=$!
        for _ in $(seq 100); do grep -q 'listening on' "$TMP/serve.log" 2>/dev/null && break; sleep 0.05; done
        PORT="$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/serve.log" | head -1)"
        sleep 1
        t0=$(awk '{print $14 + $15}' "/proc/$PID/stat"); r0=$(wc -l < "$TMP/runs")
        durations=()
        for _ in $(seq "$SERVE_SECONDS"); do
            sleep 1
            durations+=("$(curl -s "http://127.0.0.1:$PORT/readyz?format=json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["duration_ms"])')")
        done
        t1=$(awk '{print $14 + $15}' "/proc/$PID/stat"); r1=$(wc -l < "$TMP/runs")
        threads=$(ls "/proc/$PID/task" | wc -l)
        kill -TERM "$PID"; wait "$PID" 2>/dev/null || true
        runs=$(( (r1 - r0) / 3 ))
        tick=$(getconf CLK_TCK)
        python3 - "$BIN" "$conf" "$runs" "$t0" "$t1" "$tick" "$threads" "${durations[@]}" <<'PY'
import sys, statistics
b, conf, runs, t0, t1, tick, threads = sys.argv[1:8]
d = sorted(float(x) for x in sys.argv[8:])
runs = int(runs)
cpu = (int(t1) - int(t0)) * 1000 / int(tick) / max(runs, 1)
print(f"| {b} | {conf} | {runs} | {cpu:.2f} | {threads} | {statistics.median(d):.2f} |")
PY
    done
done
