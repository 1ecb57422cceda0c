#!/usr/bin/env bash
# Listener benchmarks (release build: `make build` first).
#  1. 100k replayed events (the 4.3.0 capture's events repeated with increasing serials)
#     through `readiness-probe listen`: parse, dedupe, ledger updates and writes. events/s.
#  2. `readiness-probe run --cached` median wall time (hyperfine -N).
# Usage: Tests/Bench/listener.sh [BINARY] [EVENTS]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BIN="$(cd "$(dirname "${1:-$ROOT/.build/release/readiness-probe}")" && pwd)/$(basename "${1:-$ROOT/.build/release/readiness-probe}")"
N="${2:-100000}"
TMP="$(mktemp -d /tmp/rp-lbench.XXXXXX)"
# The ledger's folder: tmpfs (/dev/shm) like a container's /run when it is one; RUNDIR=... to
# measure another filesystem (on ext4, every atomic rename also starts a data writeback).
if [ -z "${RUNDIR:-}" ]; then
    if [ -w /dev/shm ]; then RUNDIR="$(mktemp -d /dev/shm/rp-lbench.XXXXXX)"; else RUNDIR="$TMP/run"; fi
fi
trap 'rm -rf "$TMP" "$RUNDIR"' EXIT

# The stream: fixture envelopes (len counted in code points) re-serialised with serials 0..N-1.
python3 - "$ROOT/Tests/Fixtures/supervisor/4.3.0-events-stream.bin" "$N" "$TMP/stream.bin" <<'PY'
import sys, re
data = open(sys.argv[1], 'rb').read().decode('utf-8')
n, out = int(sys.argv[2]), sys.argv[3]
events, i = [], 0
while i < len(data):
    nl = data.index('\n', i)
    header = data[i:nl]
    length = int(re.search(r'len:(\d+)', header).group(1))
    fields = dict(t.split(':', 1) for t in header.split())
    events.append((fields['pool'], fields['eventname'], data[nl + 1:nl + 1 + length]))
    i = nl + 1 + length
with open(out, 'wb') as f:
    for s in range(n):
        pool, name, payload = events[s % len(events)]
        f.write(('ver:3.0 server:supervisor serial:%d pool:%s poolserial:%d eventname:%s len:%d\n%s'
                 % (s, pool, s, name, len(payload), payload)).encode('utf-8'))
PY

cat > "$TMP/probe.conf" <<CONF
[probe]
rundir = $RUNDIR
hooks_dir =
sonic_hook =
[supervisor]
serverurl = unix://$TMP/no-such.sock
[start]
program = start
[programs]
critical = longrun, worker:worker_00
[listener]
run_checks = false
CONF

bytes=$(stat -c %s "$TMP/stream.bin")
TIMEFORMAT="%R %U %S"
read -r wall user sys < <( { time "$BIN" listen --config "$TMP/probe.conf" < "$TMP/stream.bin" > "$TMP/out.bin" 2> "$TMP/err.txt"; } 2>&1 )
replies=$(( ($(stat -c %s "$TMP/out.bin") - 6) / 17 ))
[ "$replies" -eq "$N" ] || { echo "expected $N replies, got $replies" >&2; exit 1; }
python3 -c "
n, t, cpu, b = $N, $wall, $user + $sys, $bytes
print(f'listener replay (ledger in $RUNDIR): {n} events ({b/1e6:.1f} MB) in {t:.3f} s wall = {n/t:,.0f} events/s; '
      f'{cpu:.3f} s CPU = {n/cpu:,.0f} events/CPU-s; load average: $(cut -d' ' -f1 /proc/loadavg)')"

# A cached result written by the listener itself (one TICK_5 with run_checks = true).
sed -i 's/run_checks = false/run_checks = true/' "$TMP/probe.conf"
printf 'ver:3.0 server:supervisor serial:0 pool:readiness poolserial:0 eventname:TICK_5 len:15\nwhen:1795312413' \
    | "$BIN" listen --config "$TMP/probe.conf" > /dev/null 2>&1
rc=0; "$BIN" run --cached --config "$TMP/probe.conf" --max-age 1h > /dev/null || rc=$?
[ "$rc" -ne 11 ] || { echo "the listener wrote no cached result" >&2; exit 1; }
hyperfine -N -i --warmup 20 --runs 300 --export-json "$TMP/h.json" \
    "$BIN run --cached --max-age 1h --config $TMP/probe.conf" > "$TMP/h.txt" 2>&1 || { cat "$TMP/h.txt"; exit 1; }
python3 -c "
import json; r = json.load(open('$TMP/h.json'))['results'][0]
print(f\"run --cached: median {r['median']*1000:.3f} ms, mean {r['mean']*1000:.3f} ms ± {r['stddev']*1000:.3f} ms ({len(r['times'])} runs)\")"
