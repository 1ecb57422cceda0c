#!/usr/bin/env bash
# make bench: what the flight recorder (docs/history.md) costs a one-shot `run`: one trivial hook,
# history off / on with an unchanged result (the common case: read the last 4 KiB, append nothing)
# / on with the last codes 64 KiB back in a full 1 MiB log (listener records after them) / on with
# a change every run (append). Instructions (callgrind), median wall (hyperfine), max RSS.
# Prints Markdown for docs/benchmarks.md ("History: the cost on `run`").
set -euo pipefail
BIN="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
RUNS="${BENCH_RUNS:-300}"
TMP="$(mktemp -d /tmp/rp-hbench.XXXXXX)"
trap 'rm -rf "$TMP"' EXIT

conf() { # NAME EXTRA: a rundir of its own, [start] off, one hook `exit 0` (or the flip hook)
    local d="$TMP/$1"; mkdir -p "$d"
    printf '#!/bin/sh\nexit 0\n' > "$d/ok"
    printf '#!/bin/sh\nn=$(cat %s/n 2>/dev/null || echo 0); echo $((1 - n)) > %s/n; exit $((n * 20))\n' "$d" "$d" > "$d/flip"
    chmod 755 "$d/ok" "$d/flip"
    printf '[probe]\nrundir = %s/run\nhooks_dir =\nsonic_hook =\n[start]\nprogram =\n[hook:ok]\ncommand = %s/%s\n%s\n' \
        "$d" "$d" "${3:-ok}" "$2" > "$d/rp.conf"
    echo "$d/rp.conf"
}
OFF=$(conf off "[history]
enabled = false")
ON=$(conf on "")
FULL=$(conf full "")
FLIP=$(conf flip "" flip)
"$BIN" run --config "$ON" >/dev/null
"$BIN" run --config "$FULL" >/dev/null
"$BIN" run --config "$FLIP" >/dev/null || true
# FULL: 1 MiB of listener program records before and 10 KiB after the last record with codes.
python3 - "$TMP/full/run/readiness-probe/history" <<'PY'
import sys, json
p = sys.argv[1]
last = open(p).read()
rec = lambda i: json.dumps({"at": 1796094725000 + i, "program": "p%d" % (i % 50), "state": "RUNNING", "pid": 1000 + i,
                            "exit_status": None, "expected": None, "by": "listen", "supervisord_pid": 1, "supervisord_start": 42}) + "\n"
before = "".join(rec(i) for i in range(5400))
after = "".join(rec(i) for i in range(60))
open(p, "w").write(before[: (1 << 20) - 16 * 1024] + "\n" + last + after[:10 * 1024].rsplit("\n", 1)[0] + "\n")
PY
sed -i '1{/^[^{]/d}' "$TMP/full/run/readiness-probe/history"

instr() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null | awk '/refs:/ {print $NF}'; }
max_rss_kb() { local m=0 v; for _ in $(seq 10); do v=$(/usr/bin/time -f "%M" "$@" 2>&1 >/dev/null | tail -1); [ "$v" -gt "$m" ] && m=$v; done; echo "$m"; }

echo "## History: the cost on \`run\` (\`Tests/Bench/history.sh\`)"
echo
echo "- date: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $RUNS runs per command (hyperfine -N --warmup 10)"
echo
echo "| \`run\`, one trivial hook | instructions | median wall | max RSS |"
echo "|---|---|---|---|"
hyperfine -N --warmup 10 -r "$RUNS" -i --export-json "$TMP/h.json" \
    "$BIN run --config $OFF" "$BIN run --config $ON" "$BIN run --config $FULL" "$BIN run --config $FLIP" >/dev/null 2>&1
for c in "$OFF:history off" "$ON:history on, result unchanged (reads the last 4 KiB)" \
         "$FULL:history on, 1 MiB log, last codes 10 KiB back (reads 64 KiB)" "$FLIP:history on, a change every run (appends 2 records)"; do
    f="${c%%:*}"; label="${c#*:}"
    n=$(instr "$BIN" run --config "$f" || true)
    med=$(python3 -c 'import json,sys; r=[x for x in json.load(open(sys.argv[1]))["results"] if x["command"].endswith(sys.argv[2])][0]; print("%.2f ms" % (r["median"]*1000))' "$TMP/h.json" "$f")
    echo "| $label | $n | $med | $(max_rss_kb "$BIN" run --config "$f") KiB |"
done
echo
echo "File sizes after the runs: on $(stat -c %s "$TMP/on/run/readiness-probe/history") B, full $(stat -c %s "$TMP/full/run/readiness-probe/history") B, flip $(stat -c %s "$TMP/flip/run/readiness-probe/history") B."
